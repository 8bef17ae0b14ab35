"""An asset's companion files (Immich's sidecarPath and livePhotoVideoId): the XMP sidecar found beside the
original, and a live photo's motion video, linked to its still and hidden from the timeline. The storage
template moves both with the still (services.storage)."""

import logging
from pathlib import Path

from django.db import transaction

from ..models import Asset, AssetType

log = logging.getLogger(__name__)

# Apple's live photo videos last about three seconds; a video this short with a photo's name beside it in a
# library folder is taken as that photo's motion part when the files carry no ContentIdentifier.
LIVE_PHOTO_MAX_SECONDS = 5.0


def find_sidecar(original) -> Path | None:
    """The sidecar of an original as Immich looks for it: `<file>.xmp`, else `<name without extension>.xmp`
    (either case of the extension)."""
    original = Path(original)
    for name in (original.name, original.stem):
        for suffix in (".xmp", ".XMP"):
            candidate = original.with_name(name + suffix)
            if candidate.is_file():
                return candidate
    return None


def sync_sidecar(asset_id) -> bool:
    """SidecarCheck: look for the asset's sidecar again and record it; whether its metadata must be
    re-read (a sidecar was found, changed place, or is gone)."""
    asset = Asset.objects.only("id", "original_path", "sidecar_path").get(pk=asset_id)
    sidecar = find_sidecar(asset.original_path)
    found = str(sidecar or "")
    if found != asset.sidecar_path:
        Asset.objects.filter(pk=asset.pk).update(sidecar_path=found)
        return True
    return bool(found)


def asset_ids_to_sync(force: bool | None) -> list:
    """Sync (force) = every online asset, Discover = those without a sidecar."""
    assets = Asset.objects.filter(is_offline=False)
    if not force:
        assets = assets.filter(sidecar_path="")
    return list(assets.values_list("id", flat=True))


def _same_stem_partner(asset):
    """The file of the other type with the same name in the same library folder (uploads are stored under
    generated names, so only the ContentIdentifier links them)."""
    if asset.library_id is None:
        return None
    path = Path(asset.original_path)
    candidates = Asset.objects.filter(library_id=asset.library_id, original_path__startswith=f"{path.parent}/"
                                      f"{path.stem}.").exclude(type=asset.type)
    for candidate in candidates:
        candidate_path = Path(candidate.original_path)
        if candidate_path.parent == path.parent and candidate_path.stem == path.stem:
            return candidate
    return None


def _is_short(video) -> bool:
    return video.duration is not None and video.duration <= LIVE_PHOTO_MAX_SECONDS


def link_live_photo(asset) -> Asset | None:
    """After an asset's metadata extraction (Immich's linkLivePhotos): pair a still with its motion video,
    same owner and same library, by Apple's ContentIdentifier, else (library files) by a short video of the
    same name in the same folder. Whichever of the two is extracted second makes the link. The linked still,
    or None."""
    if asset.deleted_at is not None:
        return None
    partners = Asset.objects.filter(owner_id=asset.owner_id, library_id=asset.library_id, deleted_at__isnull=True)
    partner = None
    if asset.live_photo_cid:
        partner = (partners.filter(live_photo_cid=asset.live_photo_cid).exclude(type=asset.type)
                   .exclude(pk=asset.pk).order_by("created_at").first())
    if partner is None:
        partner = _same_stem_partner(asset)
        video = asset if asset.type == AssetType.VIDEO else partner
        if partner is None or not _is_short(video) or (asset.live_photo_cid and partner.live_photo_cid):
            return None
    still, video = (asset, partner) if asset.type == AssetType.IMAGE else (partner, asset)
    with transaction.atomic():
        if still.live_photo_video_id == video.pk:
            return still
        if still.live_photo_video_id or Asset.objects.filter(live_photo_video=video).exists():
            return None  # one of them is already part of another pair
        Asset.objects.filter(pk=still.pk).update(live_photo_video=video)
    still.live_photo_video = video
    log.info("live photo: %s with its motion video %s", still.pk, video.pk)
    return still
