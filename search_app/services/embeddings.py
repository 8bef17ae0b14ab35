"""Smart search embeddings (Immich's SmartSearch job): an asset's preview goes to the ML service's CLIP
visual model; the embedding is stored per (asset, model).

Model change (beyond Immich, issue #30211): the new model's embeddings are stored beside the old ones, and
search keeps using the old model until every live asset that had an old embedding has a new one; then the
old rows are deleted. A job that embedded with a model that is no longer the configured one is skipped
(Immich skips running jobs of the old model)."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from media_app.models import Asset
from media_app.services.thumbnails import absolute, asset_with_preview
from ml_client import client as ml_client
from people_app.services.detection import parse_embedding
from settings_app.services import get_config, refresh_config

from ..models import AssetSearchInfo, SmartSearch
from . import index


class EmbeddingSkipped(Exception):
    """The job has nothing to do (feature off, asset gone, model changed meanwhile); the message says why."""


@dataclass
class EmbeddingResult:
    asset: Asset
    model_name: str
    retired_models: list[str]

    def describe(self) -> str:
        retired = f"; {', '.join(self.retired_models)} embeddings removed" if self.retired_models else ""
        return f"embedded {self.asset.original_filename} with {self.model_name}{retired}"


def disabled_reason(config) -> str:
    ml = config.machineLearning
    if not ml.enabled:
        return "machine learning is disabled"
    if not ml.clip.enabled:
        return "smart search is disabled"
    return ""


def live_assets():
    return Asset.objects.filter(deleted_at__isnull=True, is_offline=False)


def request_embedding(image: bytes | None = None, text: str | None = None, *, model_name: str, config) -> list:
    model_type = "visual" if image is not None else "textual"
    entry = {"modelName": model_name}
    if text is not None:
        entry["options"] = {"language": "en"}
    answer = ml_client.predict({"clip": {model_type: entry}}, image=image, text=text, config=config)
    return parse_embedding(answer["clip"])


def embed_asset(asset_id, config=None) -> EmbeddingResult:
    """Embed one asset with the configured CLIP model. Raises EmbeddingSkipped, ml_client errors."""
    config = config or get_config()
    if reason := disabled_reason(config):
        raise EmbeddingSkipped(reason)
    asset = asset_with_preview(asset_id, EmbeddingSkipped, "embed")
    model_name = config.machineLearning.clip.modelName
    vector = request_embedding(absolute(asset.preview_path).read_bytes(), model_name=model_name, config=config)
    current = refresh_config().machineLearning.clip.modelName
    if current != model_name:
        raise EmbeddingSkipped(f"the CLIP model changed from {model_name} to {current} while this job ran")
    with transaction.atomic():
        SmartSearch.objects.update_or_create(asset=asset, model_name=model_name,
                                             defaults={"embedding": SmartSearch.pack(vector)})
        AssetSearchInfo.objects.update_or_create(asset=asset, defaults={"smart_search_error": ""})
        index.bump(asset.owner_id)
    return EmbeddingResult(asset, model_name, retire_old_models(model_name))


def record_failure(asset_id, error: str) -> None:
    if Asset.objects.filter(pk=asset_id).exists():
        AssetSearchInfo.objects.update_or_create(asset_id=asset_id, defaults={"smart_search_error": error[:2000]})


def missing_for(model_name: str):
    """Live assets that have an embedding of another model but none of this one."""
    embedded = SmartSearch.objects.filter(model_name=model_name).values("asset_id")
    return live_assets().filter(embeddings__isnull=False).exclude(pk__in=embedded).distinct()


@transaction.atomic
def retire_old_models(model_name: str) -> list[str]:
    """Delete the other models' embeddings once the model covers every asset they covered."""
    old = SmartSearch.objects.exclude(model_name=model_name)
    if not old.exists() or missing_for(model_name).exists():
        return []
    retired = sorted(set(old.values_list("model_name", flat=True)))
    owners = set(old.values_list("asset__owner_id", flat=True).distinct())
    old.delete()
    for owner_id in owners:
        index.bump(owner_id)
    return retired


def serving_model(config=None) -> str:
    """The model search uses: the configured one, unless another model's embeddings are still waiting for
    the configured one to catch up (then the other model with the most embeddings)."""
    configured = (config or get_config()).machineLearning.clip.modelName
    others = (SmartSearch.objects.exclude(model_name=configured).values("model_name")
              .annotate(count=Count("id")).order_by("-count"))
    first = others.first()
    return first["model_name"] if first else configured


def asset_ids_to_embed(force: bool | None):
    """ALL (True) every live asset with a preview, MISSING (False) those without an embedding of the
    configured model."""
    assets = live_assets().exclude(preview_path="")
    if not force:
        model_name = get_config().machineLearning.clip.modelName
        assets = assets.exclude(pk__in=SmartSearch.objects.filter(model_name=model_name).values("asset_id"))
    return (str(pk) for pk in assets.order_by("created_at", "id").values_list("id", flat=True).iterator())
