"""CLIP and OCR over Immich's HTTP protocol, on the real service process: a CLIP model generated in Immich's
layout in the service's model cache, OCR with the PP-OCR models bundled in rapidocr-onnxruntime."""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from .clip_model import write_clip_model
from .conftest import PROJECT_DIR, start_service, stop_service
from .test_http import post

MODEL = "ViT-B-32__openai"
PURE = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


@pytest.fixture(scope="module")
def clip_service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ml-clip")
    write_clip_model(folder / "ml-models", MODEL)
    service = start_service(folder, ["-m", "ml_service"])
    yield service
    stop_service(service)


def jpeg(colour, size=(120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def vector(text: str) -> np.ndarray:
    return np.asarray(json.loads(text), dtype=np.float32)


def test_clip_visual_and_textual_embeddings_meet_in_one_space(clip_service):
    images = {colour: post(clip_service, {"clip": {"visual": {"modelName": MODEL}}}, jpeg(rgb))
              for colour, rgb in PURE.items()}
    for response in images.values():
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"clip", "imageHeight", "imageWidth"} and (body["imageWidth"], body["imageHeight"]) == (
            120, 80)
        assert isinstance(body["clip"], str) and vector(body["clip"]).shape == (512,)
    text = post(clip_service, {"clip": {"textual": {"modelName": MODEL, "options": {"language": "en"}}}},
                text="a photo of a green dog")
    assert text.status_code == 200 and set(text.json()) == {"clip"}
    query = vector(text.json()["clip"])
    assert abs(np.linalg.norm(query) - 1) < 1e-5
    scores = {colour: float(query @ vector(r.json()["clip"])) for colour, r in images.items()}
    assert max(scores, key=scores.get) == "green" and scores["green"] > 0.8 > scores["red"]


def test_clip_textual_needs_text_and_visual_an_image(clip_service):
    response = post(clip_service, {"clip": {"visual": {"modelName": MODEL}}}, text="red")
    assert response.status_code == 400 and "needs an image" in response.json()["detail"]


def test_clip_model_names_cannot_leave_the_cache(clip_service):
    response = post(clip_service, {"clip": {"textual": {"modelName": "../../etc"}}}, text="red")
    assert response.status_code == 422 and "Invalid CLIP model name" in response.json()["detail"]


def text_image(words: str) -> bytes:
    image = Image.new("RGB", (900, 220), "white")
    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 64)
    ImageDraw.Draw(image).text((30, 70), words, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def ocr_entries(min_detection=0.5, min_recognition=0.8, max_resolution=736) -> dict:
    return {"ocr": {
        "detection": {"modelName": "PP-OCRv5_mobile",
                      "options": {"minScore": min_detection, "maxResolution": max_resolution}},
        "recognition": {"modelName": "PP-OCRv5_mobile", "options": {"minScore": min_recognition}},
    }}


def test_ocr_reads_printed_text_in_immichs_shape(ml_service):
    response = post(ml_service, ocr_entries(), text_image("HELLO PHOTOSERVER"))
    assert response.status_code == 200
    body = response.json()
    assert (body["imageWidth"], body["imageHeight"]) == (900, 220)
    ocr = body["ocr"]
    assert "PHOTOSERVER" in " ".join(ocr["text"]).upper()
    assert len(ocr["box"]) == 8 * len(ocr["text"]) and all(0 <= value <= 1 for value in ocr["box"])
    assert all(0.5 <= score <= 1 for score in ocr["boxScore"])
    assert all(0.8 <= score <= 1 for score in ocr["textScore"])
    # the recognition threshold above the recognised score removes the text
    strict = post(ml_service, ocr_entries(min_recognition=min(1.0, max(ocr["textScore"]) + 0.001)),
                  text_image("HELLO PHOTOSERVER")).json()["ocr"]
    assert strict["text"] == [] and strict["box"] == []


def test_ocr_options_are_checked(ml_service):
    response = post(ml_service, ocr_entries(max_resolution=0), text_image("X"))
    assert response.status_code == 422 and "maxResolution" in response.json()["detail"]


# A real Immich CLIP model, when one was put in the cache by hand (no registry package ships CLIP weights).
REAL_CACHE = Path(os.environ.get("REAL_CLIP_MODEL_CACHE") or PROJECT_DIR / "data" / "ml-models")
REAL_MODEL = REAL_CACHE / "clip" / MODEL


@pytest.mark.skipif(not (REAL_MODEL / "visual" / "model.onnx").is_file(),
                    reason=f"no real CLIP model in {REAL_MODEL}: put Immich's {MODEL} files there (or set "
                           "REAL_CLIP_MODEL_CACHE) to run this")
def test_a_real_clip_model_matches_text_to_images(tmp_path):
    service = start_service(tmp_path, ["-m", "ml_service"], ML_MODEL_CACHE=str(REAL_CACHE))
    try:
        images = {colour: vector(post(service, {"clip": {"visual": {"modelName": MODEL}}}, jpeg(rgb)).json()["clip"])
                  for colour, rgb in PURE.items()}
        for colour in PURE:
            text = vector(post(service, {"clip": {"textual": {"modelName": MODEL}}},
                               text=f"a plain {colour} square").json()["clip"])
            assert max(images, key=lambda name: float(text @ images[name])) == colour
    finally:
        stop_service(service)
