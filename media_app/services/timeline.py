"""The timeline: an owner's assets (not trashed, not archived, owner not pending deletion) newest first, grouped by the
day they were taken (local wall-clock date), one page at a time for infinite scrolling."""

import base64
import io
from dataclasses import dataclass, field
from datetime import date

import thumbhash as thumbhash_codec
from django.db.models import CharField, ExpressionWrapper, F
from PIL import Image

from ..models import Asset, Visibility

PAGE_SIZE = 120

# An asset's id as the database hands it back, without the uuid.UUID Django builds per row (most of the
# time of a 30,000-marker map): 32 hex digits on SQLite, a UUID on PostgreSQL. id_text() writes it out.
RAW_ID = ExpressionWrapper(F("id"), output_field=CharField())


def id_text(raw) -> str:
    """The canonical (dashed) text of an id read through RAW_ID."""
    if isinstance(raw, str) and len(raw) == 32:
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return str(raw)


def timeline_assets(owner, visibility: str | None = Visibility.TIMELINE):
    """The owner's assets outside the trash, newest first: those of one visibility (None: any). A live
    photo's motion video is never listed on its own: its still stands for both."""
    assets = Asset.objects.filter(owner=owner, owner__deleted_at__isnull=True, deleted_at__isnull=True,
                                  live_photo_still__isnull=True)
    if visibility is not None:
        assets = assets.filter(visibility=visibility)
    return assets.order_by("-local_taken_at", "-created_at", "-id")


def geotagged_assets(owner, visibility: str | None = Visibility.TIMELINE):
    return timeline_assets(owner, visibility).filter(latitude__isnull=False, longitude__isnull=False)


def map_markers(owner) -> list[tuple]:
    """(id, latitude, longitude) of every geotagged asset of the owner: plain rows read from a covering index
    (asset_map_markers), unsorted, with no model built, for a map of tens of thousands of photos."""
    rows = geotagged_assets(owner).order_by().values_list(RAW_ID, "latitude", "longitude")
    return [(id_text(raw), lat, lon) for raw, lat, lon in rows]


@dataclass
class Day:
    day: date | None
    assets: list = field(default_factory=list)
    continued: bool = False  # the same day was already started on the previous page


@dataclass
class Page:
    days: list[Day]
    number: int
    has_next: bool


def day_of(asset: Asset) -> date | None:
    return asset.local_taken_at.date() if asset.local_taken_at else None


def group_by_day(assets, previous_day: date | None = None) -> list[Day]:
    days: list[Day] = []
    for asset in assets:
        day = day_of(asset)
        if not days or days[-1].day != day:
            days.append(Day(day, continued=not days and previous_day is not None and day == previous_day))
        days[-1].assets.append(asset)
    return days


def timeline_page(owner, number: int = 1, page_size: int | None = None) -> Page:
    number = max(1, number)
    page_size = page_size or PAGE_SIZE
    start = (number - 1) * page_size
    assets = list(timeline_assets(owner)[start:start + page_size + 1])
    has_next = len(assets) > page_size
    assets = assets[:page_size]
    for asset in assets:
        decorate(asset)
    previous_day = None
    if start:
        previous = timeline_assets(owner)[start - 1:start].first()
        previous_day = day_of(previous) if previous else None
    return Page(group_by_day(assets, previous_day), number, has_next)


def aspect_ratio(width: int | None, height: int | None) -> float:
    """Width over height as displayed; square when unknown (a file whose metadata could not be read)."""
    if width and height:
        return width / height
    return 1.0


def placeholder_data_url(thumbhash: bytes | None) -> str:
    """The thumbhash decoded to a tiny PNG data URL, shown blurred while the thumbnail loads."""
    if not thumbhash:
        return ""
    try:
        width, height, rgba = thumbhash_codec.thumb_hash_to_rgba(bytes(thumbhash))
    except ValueError:
        return ""
    buffer = io.BytesIO()
    Image.frombytes("RGBA", (width, height), bytes(rgba)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def decorate(asset: Asset) -> Asset:
    """Attach what a grid tile needs: the aspect ratio and the placeholder image."""
    asset.ratio = aspect_ratio(asset.width, asset.height)
    asset.tile_width = round(asset.ratio * 200)
    asset.height_percent = f"{100 / asset.ratio:.3f}"
    asset.placeholder = placeholder_data_url(asset.thumbhash)
    return asset


def iso(value) -> str | None:
    """A datetime as Immich writes it (UTC with "Z")."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def asset_response(asset: Asset) -> dict:
    """Immich's AssetResponseDto (its base64 checksum and thumbhash; the EXIF fields this server keeps)."""
    file_created = asset.file_created_at or asset.created_at
    return {
        "id": str(asset.id), "ownerId": str(asset.owner_id), "type": asset.type.upper(),
        "checksum": base64.b64encode(bytes.fromhex(asset.checksum)).decode() if asset.checksum else "",
        "originalFileName": asset.original_filename, "originalPath": asset.original_path,
        "fileCreatedAt": asset.taken_at or file_created, "fileModifiedAt": asset.file_modified_at or file_created,
        "localDateTime": asset.local_taken_at or asset.taken_at or file_created, "createdAt": asset.created_at,
        "updatedAt": asset.updated_at, "isFavorite": asset.is_favorite,
        "isArchived": asset.visibility == Visibility.ARCHIVE, "isTrashed": asset.deleted_at is not None,
        "isOffline": asset.is_offline, "isEdited": False, "hasMetadata": asset.metadata_extracted_at is not None,
        "visibility": asset.visibility,
        "thumbhash": base64.b64encode(bytes(asset.thumbhash)).decode() if asset.thumbhash else None,
        "duration": asset.duration, "width": asset.width, "height": asset.height,
        "libraryId": str(asset.library_id) if asset.library_id else None,
        "exifInfo": {
            "make": asset.make or None, "model": asset.model or None, "lensModel": asset.lens_model or None,
            "exifImageWidth": asset.width, "exifImageHeight": asset.height, "fileSizeInByte": asset.file_size,
            "orientation": str(asset.orientation) if asset.orientation else None,
            "dateTimeOriginal": asset.taken_at, "timeZone": asset.timezone or None, "latitude": asset.latitude,
            "longitude": asset.longitude, "city": asset.city or None, "state": asset.state or None,
            "country": asset.country or None, "description": asset.description, "rating": asset.rating,
        },
    }
