"""Duplicate detection (Immich's duplicate.service): an asset's CLIP embedding is compared with the same
owner's assets of the same type; those within machineLearning.duplicateDetection.maxDistance (cosine)
share one duplicate id. Groups merge: the asset's own id, else the first id among the found assets, else a
new one; every member of the merged groups moves to it. An asset with no duplicate any more leaves its
group. Exact duplicates are refused at upload whatever this finds."""

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from media_app.models import Asset
from media_app.services import trash
from settings_app.services import get_config

from ..models import AssetSearchInfo, SmartSearch
from . import embeddings, index

MAX_GROUP_CANDIDATES = 100


class DuplicatesSkipped(Exception):
    pass


@dataclass
class DuplicateResult:
    asset: Asset
    duplicate_id: uuid.UUID | None
    found: int

    def describe(self) -> str:
        if not self.found:
            return f"{self.asset.original_filename}: no duplicates"
        return f"{self.asset.original_filename}: {self.found} duplicate(s), group {self.duplicate_id}"


def disabled_reason(config) -> str:
    if reason := embeddings.disabled_reason(config):
        return reason
    if not config.machineLearning.duplicateDetection.enabled:
        return "duplicate detection is disabled"
    return ""


def _info(asset_id) -> AssetSearchInfo:
    return AssetSearchInfo.objects.get_or_create(asset_id=asset_id)[0]


def detect(asset_id, config=None) -> DuplicateResult:
    config = config or get_config()
    if reason := disabled_reason(config):
        raise DuplicatesSkipped(reason)
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None:
        raise DuplicatesSkipped(f"asset {asset_id} no longer exists")
    if asset.deleted_at is not None:
        raise DuplicatesSkipped(f"{asset.original_filename} is in the trash")
    model_name = embeddings.serving_model(config)
    row = SmartSearch.objects.filter(asset=asset, model_name=model_name).first()
    if row is None:
        raise ValueError(f"{asset.original_filename} has no {model_name} embedding: run Smart Search first.")
    near = index.nearest(index.owner_index(asset.owner_id, model_name), row.vector(), limit=MAX_GROUP_CANDIDATES,
                         excluded=[asset.pk], max_distance=config.machineLearning.duplicateDetection.maxDistance)
    # Few assets lie within the max distance: filter those by type and trash, not the whole library.
    same_type = {str(pk) for pk in embeddings.live_assets().filter(pk__in=[a for a, _ in near], type=asset.type)
                 .values_list("id", flat=True)}
    return _group(asset, [asset_id for asset_id, _ in near if asset_id in same_type])


@transaction.atomic
def _group(asset: Asset, duplicate_ids: list[str]) -> DuplicateResult:
    info = _info(asset.pk)
    now = timezone.now()
    if not duplicate_ids:
        AssetSearchInfo.objects.filter(pk=asset.pk).update(duplicate_id=None, duplicates_detected_at=now)
        return DuplicateResult(asset, None, 0)
    existing = list(dict.fromkeys(
        AssetSearchInfo.objects.filter(asset_id__in=duplicate_ids, duplicate_id__isnull=False)
        .order_by("asset_id").values_list("duplicate_id", flat=True)))
    target = info.duplicate_id or (existing[0] if existing else uuid.uuid4())
    for member in duplicate_ids:
        _info(member)
    merged = [group for group in existing if group != target]
    AssetSearchInfo.objects.filter(duplicate_id__in=merged).update(duplicate_id=target)
    AssetSearchInfo.objects.filter(asset_id__in=[asset.pk, *duplicate_ids]).update(duplicate_id=target)
    AssetSearchInfo.objects.filter(pk=asset.pk).update(duplicates_detected_at=now)
    return DuplicateResult(asset, target, len(duplicate_ids))


def asset_ids_to_check(force: bool | None):
    """ALL (True) every live asset with an embedding, MISSING (False) those not checked yet."""
    assets = embeddings.live_assets().filter(embeddings__isnull=False).distinct()
    if not force:
        assets = assets.exclude(search_info__duplicates_detected_at__isnull=False)
    return (str(pk) for pk in assets.order_by("created_at", "id").values_list("id", flat=True).iterator())


def groups(owner) -> list[dict]:
    """The owner's duplicate groups with at least two live assets: [{duplicate_id, assets}], newest first."""
    rows = (embeddings.live_assets().filter(owner=owner, search_info__duplicate_id__isnull=False)
            .select_related("search_info").order_by("-local_taken_at", "-created_at"))
    by_group: dict = {}
    for asset in rows:
        by_group.setdefault(asset.search_info.duplicate_id, []).append(asset)
    return [{"duplicate_id": group, "assets": assets} for group, assets in by_group.items() if len(assets) > 1]


def suggested_keep(assets) -> Asset:
    """Immich suggests the largest file (most pixels, then bytes)."""
    return max(assets, key=lambda a: ((a.width or 0) * (a.height or 0), a.file_size))


@transaction.atomic
def resolve(owner, duplicate_id, keep_ids) -> dict:
    """Keep `keep_ids` of the group (they leave it), trash the rest (deleted for good when the trash is
    off). Returns counts."""
    members = [a for group in groups(owner) if str(group["duplicate_id"]) == str(duplicate_id)
               for a in group["assets"]]
    if not members:
        raise DuplicatesSkipped("No such duplicate group.")
    keep = {str(k) for k in keep_ids} & {str(a.pk) for a in members}
    if not keep:
        raise ValueError("Choose at least one asset of the group to keep.")
    trash_ids = [a.pk for a in members if str(a.pk) not in keep]
    AssetSearchInfo.objects.filter(asset_id__in=[a.pk for a in members]).update(duplicate_id=None)
    result = trash.delete_assets(owner, trash_ids)
    return {"kept": len(keep), "trashed": result.trashed, "deleted": result.deleted}
