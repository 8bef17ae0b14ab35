"""What a user changes on their assets through the API (Immich's UpdateAssetDto / AssetBulkUpdateDto):
favourite, archive (visibility), description, rating, the date taken and the location."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..models import Asset, Visibility


class AssetEditError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class AssetChanges:
    is_favorite: bool | None = None
    visibility: str | None = None
    description: str | None = None
    rating: int | None = None
    rating_given: bool = False  # null is a value here: "unrated"
    date_time_original: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_date_taken(text: str) -> tuple[datetime, datetime, str]:
    """An ISO date/time ("2024-05-01T10:00:00+02:00") -> (instant, local wall-clock time stored as UTC,
    UTC offset text); without an offset the time is taken as UTC. AssetEditError when unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise AssetEditError("dateTimeOriginal", "dateTimeOriginal must be an ISO 8601 date and time, e.g. "
                                                 "2024-05-01T10:00:00+02:00.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset()
    return moment.astimezone(UTC), moment.replace(tzinfo=UTC), _offset_text(offset)


def _checked(changes: AssetChanges) -> dict:
    """The model fields to set; AssetEditError naming the first bad value."""
    fields = {}
    if changes.is_favorite is not None:
        fields["is_favorite"] = changes.is_favorite
    if changes.visibility is not None:
        if changes.visibility not in Visibility.values:
            raise AssetEditError("visibility", f"visibility must be one of {', '.join(Visibility.values)}.")
        fields["visibility"] = changes.visibility
    if changes.description is not None:
        fields["description"] = changes.description
    if changes.rating_given:
        if changes.rating is not None and changes.rating not in (-1, 0, 1, 2, 3, 4, 5):
            raise AssetEditError("rating", "rating must be 1 to 5 stars, -1 (rejected), 0 or null (unrated).")
        fields["rating"] = changes.rating or None
    if changes.date_time_original is not None:
        fields["taken_at"], fields["local_taken_at"], fields["timezone"] = parse_date_taken(
            changes.date_time_original)
    if (changes.latitude is None) != (changes.longitude is None):
        raise AssetEditError("latitude" if changes.latitude is None else "longitude",
                             "latitude and longitude are set together.")
    if changes.latitude is not None:
        if not -90 <= changes.latitude <= 90:
            raise AssetEditError("latitude", "latitude must be between -90 and 90.")
        if not -180 <= changes.longitude <= 180:
            raise AssetEditError("longitude", "longitude must be between -180 and 180.")
        # A moved asset's old place names no longer apply.
        fields.update(latitude=changes.latitude, longitude=changes.longitude, city="", state="", country="",
                      country_code="")
    return fields


def edit_assets(owner, asset_ids, changes: AssetChanges) -> int:
    """Apply the changes to the owner's assets among `asset_ids` (others' are ignored); how many changed.
    Nothing is changed when a value is refused."""
    fields = _checked(changes)
    if not fields:
        return 0
    assets = Asset.objects.filter(owner=owner, pk__in=list(asset_ids))
    for asset in assets:  # save() (not update()) keeps updated_at right
        for name, value in fields.items():
            setattr(asset, name, value)
        asset.save(update_fields=[*fields, "updated_at"])
    return len(assets)


def shift_dates(owner, asset_ids, minutes: int) -> int:
    """Immich's dateTimeRelative: move each asset's date taken by `minutes`."""
    delta = timedelta(minutes=minutes)
    count = 0
    for asset in Asset.objects.filter(owner=owner, pk__in=list(asset_ids), taken_at__isnull=False):
        asset.taken_at += delta
        asset.local_taken_at = asset.local_taken_at + delta if asset.local_taken_at else None
        asset.save(update_fields=["taken_at", "local_taken_at", "updated_at"])
        count += 1
    return count
