"""Immich's ``POST /predict``: the ``entries`` request, running the models, the response shapes.

``entries`` is ``{task: {type: {"modelName": ..., "options": {...}}}}``; the response is keyed by task, plus
``imageWidth``/``imageHeight`` when an image was sent. Embeddings are JSON arrays serialised into strings,
as Immich sends them (ready for a vector column).
"""

import json
from dataclasses import dataclass, field

import numpy as np

from ml_service.faces import DEFAULT_MIN_SCORE
from ml_service.images import ImageDecodeError, decode_image
from ml_service.models import (
    DETECTION,
    FACE_MODELS,
    FACIAL_RECOGNITION,
    RECOGNITION,
    TASK_TYPES,
    ModelCache,
    ModelUnavailable,
    load_face_model,
)

INVALID_FORMAT = "Invalid request format."  # Immich's words for entries it cannot read


class RequestError(Exception):
    """An answer other than 200: status and FastAPI's ``detail`` (a message, or a list of field errors)."""

    def __init__(self, status: int, detail) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Entry:
    task: str
    type: str
    model_name: str
    options: dict = field(default_factory=dict)


def parse_entries(text: str) -> list[Entry]:
    """The entries form field -> entries, or RequestError(422) naming what is wrong."""
    try:
        request = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise RequestError(422, INVALID_FORMAT)
    if not isinstance(request, dict) or not request:
        raise RequestError(422, INVALID_FORMAT)
    entries = []
    for task, types in request.items():
        if task not in TASK_TYPES:
            raise RequestError(422, f"Unknown task '{task}': expected one of {', '.join(TASK_TYPES)}.")
        if not isinstance(types, dict) or not types:
            raise RequestError(422, INVALID_FORMAT)
        for model_type, entry in types.items():
            if model_type not in TASK_TYPES[task]:
                expected = ", ".join(TASK_TYPES[task])
                raise RequestError(422, f"Unknown type '{model_type}' for task '{task}': expected one of {expected}.")
            if not isinstance(entry, dict) or not isinstance(entry.get("modelName"), str):
                raise RequestError(422, INVALID_FORMAT)
            options = entry.get("options", {})
            if not isinstance(options, dict):
                raise RequestError(422, INVALID_FORMAT)
            entries.append(Entry(task, model_type, entry["modelName"], options))
    for entry in entries:
        _check_entry(entry)
    return entries


def _check_entry(entry: Entry) -> None:
    if entry.task == FACIAL_RECOGNITION and entry.model_name not in FACE_MODELS:
        raise RequestError(
            422, f"Unknown facial-recognition model '{entry.model_name}': expected one of {', '.join(FACE_MODELS)}."
        )
    if entry.task == FACIAL_RECOGNITION and entry.type == DETECTION:
        min_score = entry.options.get("minScore", DEFAULT_MIN_SCORE)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
            raise RequestError(422, f"options.minScore must be a number from 0 to 1, not {min_score!r}.")


def predict(entries: list[Entry], image: bytes | None, text: str | None, cache: ModelCache) -> dict:
    """Run the requested models on the image (or text) and build Immich's response."""
    by_task: dict[str, dict[str, Entry]] = {}
    for entry in entries:
        by_task.setdefault(entry.task, {})[entry.type] = entry
    if image is None and text is None:
        raise RequestError(400, "Either image or text must be provided")
    for task in by_task:
        if task != FACIAL_RECOGNITION:
            raise ModelUnavailable(
                f"The task '{task}' is not served by this ML service yet: point the Machine Learning URL at an "
                f"Immich ML server for it."
            )
    face_entries = by_task[FACIAL_RECOGNITION]
    if DETECTION not in face_entries:
        raise RequestError(400, f"Task {FACIAL_RECOGNITION} of type {RECOGNITION} depends on output of {DETECTION}")
    if image is None:
        raise RequestError(400, f"Task {FACIAL_RECOGNITION} needs an image, not text")
    try:
        pixels = decode_image(image)
    except ImageDecodeError as error:
        raise RequestError(400, str(error))
    faces = _faces(pixels, face_entries[DETECTION], face_entries.get(RECOGNITION), cache)
    height, width = pixels.shape[:2]
    return {FACIAL_RECOGNITION: faces, "imageHeight": height, "imageWidth": width}


def _faces(pixels: np.ndarray, detection: Entry, recognition: Entry | None, cache: ModelCache) -> list[dict]:
    min_score = float(detection.options.get("minScore", DEFAULT_MIN_SCORE))
    name = detection.model_name
    with cache.use((FACIAL_RECOGNITION, DETECTION, name), lambda: load_face_model(name, DETECTION)) as detector:
        detected = detector.detect(pixels, min_score)
    faces = [{"boundingBox": _box(face.box), "score": round(face.score, 4)} for face in detected]
    if recognition is None or not detected:
        return faces
    name = recognition.model_name
    with cache.use((FACIAL_RECOGNITION, RECOGNITION, name), lambda: load_face_model(name, RECOGNITION)) as embedder:
        embeddings = embedder.embed_faces(pixels, detected)
    for face, embedding in zip(faces, embeddings, strict=True):
        face["embedding"] = serialise_embedding(embedding)
    return faces


def _box(box) -> dict:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return {"x1": x1, "y1": y1, "x2": x2, "y2": y2}


def serialise_embedding(vector: np.ndarray) -> str:
    """A float32 vector as a JSON array string, each value in its shortest float32 form."""
    return "[" + ",".join(str(value) for value in vector.astype(np.float32)) + "]"
