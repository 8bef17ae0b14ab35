"""Face detection (Immich's AssetDetectFaces): the asset's preview goes to the ML service, which answers
boxes in the preview's pixels, a score and an embedding per face. Boxes are stored in the coordinates of
the original as displayed (the preview is already turned upright from the EXIF orientation, so scaling is
enough), with the image size they refer to.

Refresh (force None) and MISSING keep a known face whose box still matches a new one (IoU > 0.5): same id
and person, new embedding and score. New boxes become new faces; ML faces with no match any more (e.g.
now under the min score) go. RESET (force True) deletes every ML face first."""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction
from django.utils import timezone
from PIL import Image

from media_app.formats import extension
from media_app.models import Asset, AssetType
from media_app.services.thumbnails import absolute, asset_with_preview
from ml_client import client as ml_client
from settings_app.services import get_config

from ..models import AssetFaceStatus, Face
from . import face_index, recognition

log = logging.getLogger(__name__)

# Faces whose shorter side is under this many pixels in the preview the model saw are stored (and shown)
# but never clustered: tiny faces carry little identity and crowd together in embedding space, pulling
# different people into one (ml-and-media.md: "< ~48 px").
MIN_RECOGNITION_FACE_SIZE = 48
MATCH_IOU = 0.5
NATIVE_INPUT_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp"})


class DetectionSkipped(Exception):
    """The job has nothing to do (feature switched off, asset gone); the message says why."""


@dataclass
class DetectionResult:
    asset: Asset
    new_faces: list[str]
    kept: int
    removed: int

    def describe(self) -> str:
        return (f"faces of {self.asset.original_filename}: {len(self.new_faces)} new, {self.kept} kept, "
                f"{self.removed} removed")


def disabled_reason(config) -> str:
    ml = config.machineLearning
    if not ml.enabled:
        return "machine learning is disabled"
    if not ml.facialRecognition.enabled:
        return "facial recognition is disabled"
    return ""


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def parse_embedding(value) -> np.ndarray:
    """Immich sends embeddings as a string-serialised float array (pgvector's text form)."""
    if isinstance(value, str):
        value = [float(part) for part in value.strip("[]").split(",") if part.strip()]
    vector = np.asarray(value, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def request_faces(image: bytes, model_name: str, min_score: float, config) -> dict:
    entries = {"facial-recognition": {
        "detection": {"modelName": model_name, "options": {"minScore": min_score}},
        "recognition": {"modelName": model_name},
    }}
    return ml_client.predict(entries, image=image, config=config)


def model_input(asset: Asset) -> bytes:
    """The image the model sees: the preview (upright, at most the preview size), as Immich. When the preview
    is as large as the original and the original is a JPEG, PNG or WebP, the original itself: the same
    pixels without a second JPEG compression, which moves embeddings by up to 0.02 — enough to carry a
    face across the max distance."""
    preview = absolute(asset.preview_path)
    original = Path(asset.original_path)
    if asset.type == AssetType.IMAGE and extension(original) in NATIVE_INPUT_EXTENSIONS and original.is_file():
        with Image.open(preview) as image:
            if image.size == (asset.width, asset.height):
                return original.read_bytes()
    return preview.read_bytes()


def detect_asset(asset_id, config=None) -> DetectionResult:
    """Detect the faces of one asset. Raises DetectionSkipped, ml_client errors (the job waits or fails)."""
    config = config or get_config()
    if reason := disabled_reason(config):
        raise DetectionSkipped(reason)
    asset = asset_with_preview(asset_id, DetectionSkipped, "detect faces on")
    settings = config.machineLearning.facialRecognition
    answer = request_faces(model_input(asset), settings.modelName, settings.minScore, config)
    preview_width, preview_height = int(answer["imageWidth"]), int(answer["imageHeight"])
    width, height = asset.width or preview_width, asset.height or preview_height
    scale_x, scale_y = width / preview_width, height / preview_height
    detected = []
    for item in answer.get("facial-recognition", []):
        box = item["boundingBox"]
        x1, y1, x2, y2 = (float(box[k]) for k in ("x1", "y1", "x2", "y2"))
        detected.append({
            "box": (round(x1 * scale_x), round(y1 * scale_y), round(x2 * scale_x), round(y2 * scale_y)),
            "score": float(item["score"]),
            "embedding": Face.pack(parse_embedding(item["embedding"])),
            "is_recognizable": min(x2 - x1, y2 - y1) >= MIN_RECOGNITION_FACE_SIZE,
        })
    return _store(asset, detected, settings.modelName, width, height)


@transaction.atomic
def _store(asset: Asset, detected: list[dict], model_name: str, width: int, height: int) -> DetectionResult:
    existing = list(Face.objects.filter(asset=asset, source=Face.ML))
    unmatched = {face.pk: face for face in existing}
    new_faces, kept = [], 0
    for found in detected:
        box = found["box"]
        best = max(unmatched.values(), default=None,
                   key=lambda face: iou(box, face.box_in(width, height)))
        fields = {"x1": box[0], "y1": box[1], "x2": box[2], "y2": box[3], "image_width": width,
                  "image_height": height, "score": found["score"], "embedding": found["embedding"],
                  "is_recognizable": found["is_recognizable"], "model_name": model_name}
        if best is not None and iou(box, best.box_in(width, height)) > MATCH_IOU:
            Face.objects.filter(pk=best.pk).update(updated_at=timezone.now(), **fields)
            del unmatched[best.pk]
            kept += 1
        else:
            new_faces.append(str(Face.objects.create(asset=asset, source=Face.ML, **fields).pk))
    removed = len(unmatched)
    if unmatched:
        Face.objects.filter(pk__in=list(unmatched)).delete()
        recognition.remove_empty_people(asset.owner.people.all())
    AssetFaceStatus.objects.update_or_create(asset=asset, defaults={"detected_at": timezone.now(),
                                                                    "model_name": model_name, "error": ""})
    if detected or removed:
        face_index.bump(asset.owner_id)
    return DetectionResult(asset, new_faces, kept, removed)


def record_failure(asset_id, error: str) -> None:
    if Asset.objects.filter(pk=asset_id).exists():
        AssetFaceStatus.objects.update_or_create(asset_id=asset_id, defaults={"error": error[:2000]})


def asset_ids_to_detect(force: bool | None):
    """RESET (True) deletes every ML face first and covers every asset, REFRESH (None) every asset, MISSING
    (False) the assets face detection has not run on yet."""
    assets = Asset.objects.filter(deleted_at__isnull=True, is_offline=False)
    if force:
        reset_detected_faces()
    if force is False:
        assets = assets.exclude(face_status__detected_at__isnull=False)
    return (str(pk) for pk in assets.order_by("created_at", "id").values_list("id", flat=True).iterator())


@transaction.atomic
def reset_detected_faces() -> int:
    owners = set(Face.objects.filter(source=Face.ML).values_list("asset__owner_id", flat=True).distinct())
    count, _ = Face.objects.filter(source=Face.ML).delete()
    AssetFaceStatus.objects.update(detected_at=None)
    recognition.remove_empty_people()
    for owner_id in owners:
        face_index.bump(owner_id)
    return count
