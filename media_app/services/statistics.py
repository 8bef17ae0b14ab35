"""Counts and sizes for the API: one user's assets (Immich's AssetStatsResponseDto), the whole server's
usage per user (ServerStatsResponseDto) and the disk holding the media (ServerStorageResponseDto)."""

import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum

from ..formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from ..models import Asset, AssetType

IMAGE_COUNT = Count("id", filter=Q(type=AssetType.IMAGE))
VIDEO_COUNT = Count("id", filter=Q(type=AssetType.VIDEO))


def asset_statistics(owner, *, is_favorite: bool | None = None, is_trashed: bool | None = None,
                     visibility: str | None = None) -> dict:
    """{images, videos, total} of the owner's assets; outside the trash unless `is_trashed`."""
    assets = Asset.objects.filter(owner=owner, deleted_at__isnull=not is_trashed)
    if is_favorite is not None:
        assets = assets.filter(is_favorite=is_favorite)
    if visibility is not None:
        assets = assets.filter(visibility=visibility)
    counts = assets.aggregate(images=IMAGE_COUNT, videos=VIDEO_COUNT)
    return {**counts, "total": counts["images"] + counts["videos"]}


def server_statistics() -> dict:
    """Every user's photos, videos and bytes (assets outside the trash), and the totals."""
    live = Q(assets__deleted_at__isnull=True)
    users = (get_user_model().objects.order_by("created_at", "pk").annotate(
        photos=Count("assets", filter=live & Q(assets__type=AssetType.IMAGE)),
        videos=Count("assets", filter=live & Q(assets__type=AssetType.VIDEO)),
        usage_photos=Sum("assets__file_size", filter=live & Q(assets__type=AssetType.IMAGE), default=0),
        usage_videos=Sum("assets__file_size", filter=live & Q(assets__type=AssetType.VIDEO), default=0)))
    by_user = [{"userId": str(user.pk), "userName": user.name, "photos": user.photos, "videos": user.videos,
                "usage": user.usage_photos + user.usage_videos, "usagePhotos": user.usage_photos,
                "usageVideos": user.usage_videos, "quotaSizeInBytes": user.quota_size_in_bytes}
               for user in users]
    totals = {name: sum(row[name] for row in by_user) for name in ("photos", "videos", "usage", "usagePhotos",
                                                                     "usageVideos")}
    return {**totals, "usageByUser": by_user}


def human_size(size: int) -> str:
    """Immich's asHumanReadable: one decimal, binary units."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.1f} {units[unit]}"


def server_storage() -> dict:
    """The disk holding MEDIA_ROOT (or its nearest existing parent, before the first upload made it)."""
    folder = Path(settings.MEDIA_ROOT)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    disk = shutil.disk_usage(folder)
    return {"diskSize": human_size(disk.total), "diskUse": human_size(disk.used),
            "diskAvailable": human_size(disk.free), "diskSizeRaw": disk.total, "diskUseRaw": disk.used,
            "diskAvailableRaw": disk.free,
            "diskUsagePercentage": round(disk.used / disk.total * 100, 2) if disk.total else 0}


def media_types() -> dict:
    """The file extensions uploads accept (Immich's ServerMediaTypesResponseDto)."""
    return {"image": sorted(IMAGE_EXTENSIONS), "video": sorted(VIDEO_EXTENSIONS), "sidecar": [".xmp"]}
