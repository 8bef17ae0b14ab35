"""Immich's timeline API over the timeline service: month buckets (how many assets each month holds), one
month's assets as columns (TimeBucketAssetResponseDto), and map markers. The month is the one the asset was
taken in, by the local wall-clock date (as the timeline groups days); an asset whose metadata is not read
yet counts at its file date, one without any date at its import."""

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import CharField, Count
from django.db.models.functions import Cast, Coalesce, Substr

from ..models import AssetType, Visibility
from .timeline import RAW_ID, aspect_ratio, geotagged_assets, id_text, timeline_assets
from .trash import trashed_assets


@dataclass(frozen=True)
class BucketFilter:
    """The query options Immich's getTimeBuckets/getTimeBucket share (those this server has data for)."""

    visibility: str | None = None  # None: the timeline and the archive, as Immich
    is_favorite: bool | None = None
    is_trashed: bool = False
    descending: bool = True


def _filtered(owner, options: BucketFilter):
    if options.is_trashed:
        assets = trashed_assets(owner)
        if options.visibility is not None:
            assets = assets.filter(visibility=options.visibility)
    else:
        assets = timeline_assets(owner, options.visibility)
        if options.visibility is None:  # hidden (live photo parts) and locked assets never show by default
            assets = assets.filter(visibility__in=(Visibility.TIMELINE, Visibility.ARCHIVE))
    if options.is_favorite is not None:
        assets = assets.filter(is_favorite=options.is_favorite)
    return assets


# The moment that places an asset in a month. local_taken_at holds the wall-clock time as if it were UTC;
# both databases store and cast it as "YYYY-MM-DD hh:mm:ss..." text in UTC, so its first 7 characters
# are the month, computed natively (Django's TruncMonth is a Python function per row on SQLite).
PLACED_AT = Coalesce("local_taken_at", "file_created_at", "created_at")
MONTH_KEY = Substr(Cast(PLACED_AT, CharField()), 1, 7)


def _in_month(assets, start: datetime, end: datetime):
    """Assets placed in [start, end), by the same moment as the month counts, newest first (by that moment:
    an asset without a date taken sorts among the others alike on every database)."""
    return (assets.alias(placed_at=PLACED_AT).filter(placed_at__gte=start, placed_at__lt=end)
            .order_by("-placed_at", "-created_at", "-id"))


def month_buckets(owner, options: BucketFilter = BucketFilter()) -> list[dict]:
    """[{timeBucket: "YYYY-MM-01", count}], newest month first unless ascending."""
    rows = (_filtered(owner, options).order_by().annotate(month=MONTH_KEY).values("month")
            .annotate(count=Count("id")).order_by("-month" if options.descending else "month"))
    return [{"timeBucket": f"{row['month']}-01", "count": row["count"]} for row in rows]


def parse_month(text: str) -> date:
    """A bucket name ("2024-05-01", or any date/instant in the month) -> the month's first day; ValueError."""
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date().replace(day=1)


BUCKET_COLUMNS = ("width", "height", "is_favorite", "visibility", "deleted_at", "type", "thumbhash", "taken_at",
                  "local_taken_at", "file_created_at", "timezone", "duration", "created_at")
COORDINATE_COLUMNS = ("latitude", "longitude", "city", "country")


def month_assets(owner, month: date, options: BucketFilter = BucketFilter(), *, with_coordinates=False) -> dict:
    """One month's assets as Immich's columns (each key a list, one entry per asset), built column by column
    from plain rows: a busy month holds thousands."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    assets = _in_month(_filtered(owner, options), start, end)
    if not options.descending:
        assets = assets.reverse()
    names = ("id", *BUCKET_COLUMNS, *(COORDINATE_COLUMNS if with_coordinates else ()))
    rows = list(assets.values_list(RAW_ID, *names[1:]))
    column = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(names, ())
    placed = [taken or file_created or created for taken, file_created, created
              in zip(column["taken_at"], column["file_created_at"], column["created_at"], strict=True)]
    columns = {
        "id": list(map(id_text, column["id"])),
        "ownerId": [str(owner.pk)] * len(rows),  # every asset of a bucket is the caller's own
        "ratio": list(map(aspect_ratio, column["width"], column["height"])),
        "isFavorite": list(column["is_favorite"]),
        "visibility": list(column["visibility"]),
        "isTrashed": [deleted is not None for deleted in column["deleted_at"]],
        "isImage": [kind == AssetType.IMAGE for kind in column["type"]],
        "thumbhash": [base64.b64encode(bytes(value)).decode() if value else None for value in column["thumbhash"]],
        "fileCreatedAt": list(map(iso, placed)),
        "localOffsetHours": list(map(local_offset_hours, column["timezone"], column["local_taken_at"],
                                     column["taken_at"])),
        "duration": [round(seconds * 1000) if seconds else None for seconds in column["duration"]],
        "projectionType": [None] * len(rows),
        "livePhotoVideoId": [None] * len(rows),
        "createdAt": list(map(iso, column["created_at"])),
    }
    if with_coordinates:
        columns.update(latitude=list(column["latitude"]), longitude=list(column["longitude"]),
                       city=[city or None for city in column["city"]],
                       country=[country or None for country in column["country"]])
    return columns


def local_offset_hours(timezone: str, local_taken_at: datetime | None, taken_at: datetime | None) -> float:
    """Hours east of UTC where the asset was taken: its recorded offset, else the gap between the local
    wall-clock time and the instant, else 0."""
    if timezone:
        sign = -1 if timezone.startswith("-") else 1
        hours, _, minutes = timezone.lstrip("+-").partition(":")
        return sign * (int(hours or 0) + int(minutes or 0) / 60)
    if local_taken_at and taken_at:
        return round((local_taken_at - taken_at).total_seconds() / 3600, 2)
    return 0.0


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def map_markers(owner, *, is_archived: bool | None = None, is_favorite: bool | None = None,
                created_after=None, created_before=None) -> list[dict]:
    """Immich's MapMarkerResponseDto list: the owner's geotagged assets (archived ones only when asked)."""
    assets = geotagged_assets(owner, None).filter(
        visibility__in=(Visibility.TIMELINE, Visibility.ARCHIVE) if is_archived else (Visibility.TIMELINE,))
    if is_favorite is not None:
        assets = assets.filter(is_favorite=is_favorite)
    if created_after is not None:
        assets = assets.filter(file_created_at__gte=created_after)
    if created_before is not None:
        assets = assets.filter(file_created_at__lte=created_before)
    rows = assets.order_by().values_list(RAW_ID, "latitude", "longitude", "city", "state", "country")
    return [{"id": id_text(raw), "lat": lat, "lon": lon, "city": city or None, "state": state or None,
             "country": country or None} for raw, lat, lon, city, state, country in rows]
