"""What the Machine Learning settings page shows about smart search, duplicates and OCR: how far each has
got, which CLIP model serves search, and the latest error (e.g. a model missing from the ML service's
cache, with the folder its files belong in)."""

from dataclasses import dataclass

from django.db.models import Count

from settings_app.services import get_config

from ..models import AssetSearchInfo, SmartSearch
from .embeddings import live_assets, serving_model


@dataclass
class MlStatus:
    configured_model: str
    serving_model: str
    assets: int
    embedded: int
    images: int
    read: int
    duplicate_groups: int
    smart_search_error: str
    ocr_error: str

    @property
    def migrating(self) -> bool:
        return self.configured_model != self.serving_model


def _latest_error(field: str) -> str:
    # AssetSearchInfo has no timestamp of the error; the latest rows by asset are a fair sample of "now".
    return (AssetSearchInfo.objects.exclude(**{field: ""}).order_by("-asset__updated_at")
            .values_list(field, flat=True).first() or "")


def ml_status() -> MlStatus:
    config = get_config()
    configured = config.machineLearning.clip.modelName
    live = live_assets()
    groups = (AssetSearchInfo.objects.filter(duplicate_id__isnull=False, asset__in=live).values("duplicate_id")
              .annotate(size=Count("asset")).filter(size__gt=1).count())
    return MlStatus(
        configured_model=configured,
        serving_model=serving_model(config),
        assets=live.count(),
        embedded=SmartSearch.objects.filter(model_name=configured, asset__in=live).count(),
        images=live.filter(type="image").count(),
        read=AssetSearchInfo.objects.filter(ocr_at__isnull=False, asset__in=live).count(),
        duplicate_groups=groups,
        smart_search_error=_latest_error("smart_search_error"),
        ocr_error=_latest_error("ocr_error"),
    )
