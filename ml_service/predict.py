"""Immich's ``POST /predict``: the ``entries`` request, running the models, the response shapes.

``entries`` is ``{task: {type: {"modelName": ..., "options": {...}}}}``; the response is keyed by task, plus
``imageWidth``/``imageHeight`` when an image was sent. Embeddings are JSON arrays serialised into strings,
as Immich sends them (ready for a vector column).
"""

import json
import re
from dataclasses import dataclass, field

import numpy as np

from ml_service.clip import TEXTUAL, VISUAL, load_clip_model
from ml_service.faces import DEFAULT_MIN_SCORE
from ml_service.images import ImageDecodeError, decode_image
from ml_service.models import (
    CLIP,
    DETECTION,
    FACE_MODELS,
    FACIAL_RECOGNITION,
    OCR,
    RECOGNITION,
    TASK_TYPES,
    ModelCache,
    ModelUnavailable,
    load_face_model,
)
from ml_service.ocr import (
    DEFAULT_MAX_RESOLUTION,
    DEFAULT_MIN_DETECTION_SCORE,
    DEFAULT_MIN_RECOGNITION_SCORE,
    OCR_MODELS,
    TextReader,
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


SAFE_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _check_number(entry: Entry, option: str, default, low: float, high: float | None = None) -> None:
    value = entry.options.get(option, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low or (high and value > high):
        allowed = f"from {low:g} to {high:g}" if high else f"of at least {low:g}"
        raise RequestError(422, f"{entry.task}.{entry.type}.options.{option} must be a number {allowed}, "
                                f"not {value!r}.")


def _check_entry(entry: Entry) -> None:
    if entry.task == FACIAL_RECOGNITION and entry.model_name not in FACE_MODELS:
        raise RequestError(
            422, f"Unknown facial-recognition model '{entry.model_name}': expected one of {', '.join(FACE_MODELS)}."
        )
    if entry.task == FACIAL_RECOGNITION and entry.type == DETECTION:
        _check_number(entry, "minScore", DEFAULT_MIN_SCORE, 0, 1)
    if entry.task == CLIP and (not SAFE_MODEL_NAME.match(entry.model_name) or ".." in entry.model_name):
        raise RequestError(422, f"Invalid CLIP model name '{entry.model_name}'.")
    if entry.task == OCR:
        if entry.model_name not in OCR_MODELS:
            raise RequestError(422, f"Unknown ocr model '{entry.model_name}': expected one of {', '.join(OCR_MODELS)}.")
        if entry.type == DETECTION:
            _check_number(entry, "minScore", DEFAULT_MIN_DETECTION_SCORE, 0, 1)
            _check_number(entry, "maxResolution", DEFAULT_MAX_RESOLUTION, 1)
        if entry.type == RECOGNITION:
            _check_number(entry, "minScore", DEFAULT_MIN_RECOGNITION_SCORE, 0, 1)


def predict(entries: list[Entry], image: bytes | None, text: str | None, cache: ModelCache) -> dict:
    """Run the requested models on the image (or text) and build Immich's response."""
    by_task: dict[str, dict[str, Entry]] = {}
    for entry in entries:
        by_task.setdefault(entry.task, {})[entry.type] = entry
    if image is None and text is None:
        raise RequestError(400, "Either image or text must be provided")
    for task, types in by_task.items():
        if RECOGNITION in types and DETECTION not in types:
            raise RequestError(400, f"Task {task} of type {RECOGNITION} depends on output of {DETECTION}")
        if task == CLIP and VISUAL in types and image is None:
            raise RequestError(400, f"Task {CLIP} of type {VISUAL} needs an image, not text")
        if task == CLIP and TEXTUAL in types and text is None:
            raise RequestError(400, f"Task {CLIP} of type {TEXTUAL} needs text")
        if task in (FACIAL_RECOGNITION, OCR) and image is None:
            raise RequestError(400, f"Task {task} needs an image, not text")
        if task == OCR and "ocr" in types:
            raise ModelUnavailable("The ocr pipeline type is not served here: send detection and recognition.")
    response: dict = {}
    pixels = None
    if image is not None:
        try:
            pixels = decode_image(image)
        except ImageDecodeError as error:
            raise RequestError(400, str(error))
    if CLIP in by_task:
        response[CLIP] = _clip(by_task[CLIP], pixels, text, cache)
    if FACIAL_RECOGNITION in by_task:
        faces = by_task[FACIAL_RECOGNITION]
        response[FACIAL_RECOGNITION] = _faces(pixels, faces[DETECTION], faces.get(RECOGNITION), cache)
    if OCR in by_task:
        response[OCR] = _ocr(pixels, by_task[OCR][DETECTION], by_task[OCR].get(RECOGNITION), cache)
    if pixels is not None:
        height, width = pixels.shape[:2]
        response.update({"imageHeight": height, "imageWidth": width})
    return response


def _clip(types: dict[str, Entry], pixels: np.ndarray | None, text: str | None, cache: ModelCache) -> str:
    """Immich answers one embedding per task: the visual one when an image was sent, else the textual one."""
    model_type = VISUAL if VISUAL in types and pixels is not None else TEXTUAL
    name = types[model_type].model_name
    with cache.use((CLIP, model_type, name), lambda: load_clip_model(name, model_type)) as model:
        embedding = model.embed(pixels if model_type == VISUAL else text)
    return serialise_embedding(embedding)


def _ocr(pixels: np.ndarray, detection: Entry, recognition: Entry | None, cache: ModelCache) -> dict:
    options = detection.options
    min_detection = float(options.get("minScore", DEFAULT_MIN_DETECTION_SCORE))
    max_resolution = int(options.get("maxResolution", DEFAULT_MAX_RESOLUTION))
    min_recognition = float((recognition.options if recognition else {}).get("minScore",
                                                                           DEFAULT_MIN_RECOGNITION_SCORE))
    # One reader serves every OCR model name (the bundled PP-OCR models), so it is cached once.
    with cache.use((OCR, "rapidocr"), TextReader) as reader:
        lines, width, height = reader.read(pixels, min_detection, min_recognition, max_resolution)
    boxes = [round(value, 5) for line in lines for x, y in line.corners for value in (x / width, y / height)]
    return {"text": [line.text for line in lines], "box": boxes,
            "boxScore": [round(line.box_score, 4) for line in lines],
            "textScore": [round(line.text_score, 4) for line in lines]}


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
