"""The trash (Trash settings): deleting moves assets to the trash when it is enabled, otherwise removes
them for good; the nightly job purges what has been there longer than `trash.days`. Removing an asset
for good deletes its generated files and, for uploads only, the original: files of an external library
belong to the library's folders and are never deleted from disk."""

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from settings_app.services import get_config

from ..models import Asset
from .thumbnails import absolute

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeleteResult:
    trashed: int = 0
    deleted: int = 0


def _with_motion_parts(assets):
    """The assets and the motion video of each live photo among them: it has no tile of its own and goes
    wherever its still goes (trash, restore, removal)."""
    videos = assets.filter(live_photo_video__isnull=False).values("live_photo_video")
    return Asset.objects.filter(Q(pk__in=assets.values("pk")) | Q(pk__in=videos))


def _owned(owner, asset_ids):
    return _with_motion_parts(Asset.objects.filter(owner=owner, pk__in=list(asset_ids)))


def delete_assets(owner, asset_ids, *, force: bool = False) -> DeleteResult:
    """Delete the owner's assets among `asset_ids` (others' ids are ignored): to the trash when it is
    enabled and `force` is false, otherwise permanently."""
    assets = _owned(owner, asset_ids)
    if force or not get_config().trash.enabled:
        return DeleteResult(deleted=remove_permanently(assets))
    return DeleteResult(trashed=assets.filter(deleted_at__isnull=True).update(deleted_at=timezone.now()))


def restore_assets(owner, asset_ids) -> int:
    return _owned(owner, asset_ids).filter(deleted_at__isnull=False).update(deleted_at=None)


def trashed_assets(owner):
    """The owner's trash as shown: a live photo's motion video is there through its still."""
    return Asset.objects.filter(owner=owner, deleted_at__isnull=False, live_photo_still__isnull=True).order_by(
        "-deleted_at")


def delete_from_trash(owner, asset_ids) -> int:
    return remove_permanently(_with_motion_parts(trashed_assets(owner).filter(pk__in=list(asset_ids))))


def empty_trash(owner) -> int:
    return remove_permanently(Asset.objects.filter(owner=owner, deleted_at__isnull=False))


def days_left(asset: Asset, now=None, days: int | None = None) -> int:
    """Whole days until the nightly purge removes a trashed asset (0 = at the next run)."""
    now = now or timezone.now()
    days = get_config().trash.days if days is None else days
    remaining = asset.deleted_at + timedelta(days=days) - now
    return max(0, remaining.days + (1 if remaining.seconds or remaining.microseconds else 0))


def purge_expired(now=None) -> int:
    """The nightly trash purge: remove for good every asset trashed more than `trash.days` ago, or every
    trashed asset when the trash is disabled. Returns how many were removed."""
    now = now or timezone.now()
    trash = get_config().trash
    expired = Asset.objects.filter(deleted_at__isnull=False)
    if trash.enabled:
        expired = expired.filter(deleted_at__lte=now - timedelta(days=trash.days))
    return remove_permanently(expired)


def remove_permanently(assets) -> int:
    """Delete the assets' rows, then their generated files and the originals of uploads (never the files
    of external-library assets). Files go only once the rows are deleted, so a failure deletes nothing."""
    assets = list(assets)
    if not assets:
        return 0
    files = []
    for asset in assets:
        files += [absolute(path) for path in (asset.thumbnail_path, asset.preview_path, asset.fullsize_path,
                                              asset.encoded_video_path) if path]
        if asset.library_id is None:  # the original and its sidecar are the server's own copies
            files += [path for path in (asset.original_path, asset.sidecar_path) if path]
    with transaction.atomic():
        _, per_model = Asset.objects.filter(pk__in=[asset.pk for asset in assets]).delete()
    for path in files:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as error:  # the rows are gone; a leftover file is logged, not fatal
            log.warning("could not delete %s: %s", path, error)
    return per_model.get(Asset._meta.label, 0)
