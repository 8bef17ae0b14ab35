"""OCR (Immich v3's Ocr job): the asset's preview goes to the ML service's ocr task with the
machineLearning.ocr settings; the text lines replace the asset's earlier ones and become searchable."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from media_app.models import Asset
from media_app.services.thumbnails import absolute, asset_with_preview
from ml_client import client as ml_client
from settings_app.services import get_config

from ..models import AssetOcr, AssetSearchInfo
from .embeddings import live_assets


class OcrSkipped(Exception):
    pass


@dataclass
class OcrResult:
    asset: Asset
    lines: int

    def describe(self) -> str:
        return f"{self.asset.original_filename}: {self.lines} line(s) of text"


def disabled_reason(config) -> str:
    ml = config.machineLearning
    if not ml.enabled:
        return "machine learning is disabled"
    if not ml.ocr.enabled:
        return "OCR is disabled"
    return ""


def request_ocr(image: bytes, config) -> dict:
    ocr = config.machineLearning.ocr
    entries = {"ocr": {
        "detection": {"modelName": ocr.modelName,
                      "options": {"minScore": ocr.minDetectionScore, "maxResolution": ocr.maxResolution}},
        "recognition": {"modelName": ocr.modelName, "options": {"minScore": ocr.minRecognitionScore}},
    }}
    return ml_client.predict(entries, image=image, config=config)["ocr"]


def read_asset(asset_id, config=None) -> OcrResult:
    config = config or get_config()
    if reason := disabled_reason(config):
        raise OcrSkipped(reason)
    asset = asset_with_preview(asset_id, OcrSkipped, "read")
    answer = request_ocr(absolute(asset.preview_path).read_bytes(), config)
    return _store(asset, answer, config.machineLearning.ocr.modelName)


@transaction.atomic
def _store(asset: Asset, answer: dict, model_name: str) -> OcrResult:
    AssetOcr.objects.filter(asset=asset).delete()
    lines = []
    boxes = answer.get("box", [])
    for i, text in enumerate(answer.get("text", [])):
        corners = [float(v) for v in boxes[8 * i:8 * i + 8]]
        lines.append(AssetOcr(asset=asset, x1=corners[0], y1=corners[1], x2=corners[2], y2=corners[3],
                              x3=corners[4], y3=corners[5], x4=corners[6], y4=corners[7],
                              box_score=float(answer["boxScore"][i]), text_score=float(answer["textScore"][i]),
                              text=text))
    AssetOcr.objects.bulk_create(lines)
    AssetSearchInfo.objects.update_or_create(asset=asset, defaults={
        "ocr_at": timezone.now(), "ocr_model_name": model_name, "ocr_error": "",
        "ocr_text": " ".join(line.text for line in lines)})
    return OcrResult(asset, len(lines))


def record_failure(asset_id, error: str) -> None:
    if Asset.objects.filter(pk=asset_id).exists():
        AssetSearchInfo.objects.update_or_create(asset_id=asset_id, defaults={"ocr_error": error[:2000]})


def asset_ids_to_read(force: bool | None):
    assets = live_assets().filter(type="image").exclude(preview_path="")
    if not force:
        assets = assets.exclude(search_info__ocr_at__isnull=False)
    return (str(pk) for pk in assets.order_by("created_at", "id").values_list("id", flat=True).iterator())
