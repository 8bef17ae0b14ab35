"""Immich's InsightFace models (SCRFD detection, ArcFace recognition) through onnxruntime, on generated ONNX
models in Immich's layout (tests/ml_service/insightface_models.py), and their download on first use."""

import functools
import math
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from ml_service.insightface import (
    ALIGNED_SIZE,
    ARCFACE_TEMPLATE,
    ArcFaceEmbedder,
    ScrfdDetector,
    align_face,
    non_maximum_suppression,
    similarity_transform,
)
from ml_service.models import ModelUnavailable, load_face_model

from .conftest import free_port
from .insightface_models import expected_score, paint_face, sample_scene, write_models


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models") / "buffalo_l")


@pytest.fixture(scope="module")
def detector(model_folder):
    return ScrfdDetector(model_folder / "detection" / "model.onnx")


@pytest.fixture(scope="module")
def embedder(model_folder):
    return ArcFaceEmbedder(model_folder / "recognition" / "model.onnx")


def test_every_stride_is_decoded_into_boxes_in_image_pixels_best_first(detector):
    image, (small, medium, large, dim) = sample_scene()
    faces = detector.detect(image, 0.7)
    assert sorted(face.box for face in faces) == sorted([small, medium, large, dim])
    assert faces[-1].box == dim  # the dimmer face scores lowest
    assert faces[-1].score == pytest.approx(expected_score(200), abs=1e-4)
    assert all(face.score == pytest.approx(expected_score(255), abs=1e-4) for face in faces[:3])


def test_min_score_is_the_detection_threshold(detector):
    image, (small, medium, large, _dim) = sample_scene()
    assert sorted(face.box for face in detector.detect(image, 0.95)) == sorted([small, medium, large])
    assert detector.detect(image, 0.999) == []
    # Under 0.23 the anchors half covered by a face pass too (a face sits on 2 anchors per position: 2 boxes)
    assert len(detector.detect(image, 0.2)) > 4


def test_a_larger_image_is_scaled_to_640_and_boxes_and_landmarks_scaled_back(detector):
    image = np.zeros((960, 1280, 3), np.uint8)  # scale 0.5: each face is painted twice as large
    box = paint_face(image, (320, 192), 32, scale=2)
    [face] = detector.detect(image, 0.7)
    assert face.box == box
    x1, y1 = box[:2]
    side = box[2] - x1
    expected = [(x1 + tx / ALIGNED_SIZE * side, y1 + ty / ALIGNED_SIZE * side) for tx, ty in ARCFACE_TEMPLATE]
    assert np.allclose(face.landmarks, expected, atol=1e-3)


def test_boxes_are_kept_inside_the_image(detector):
    image = np.zeros((480, 640, 3), np.uint8)
    image[:32, :32, 2] = 255  # a face cut by the corner: its anchor at (0, 0), its box from (-32, -32)
    [face] = detector.detect(image, 0.7)
    assert face.box == (0.0, 0.0, 32.0, 32.0)


def test_non_maximum_suppression_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10], [5, 0, 15, 10]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.8, 0.6], np.float32)
    # box 1 (best) removes 0 and 3 (IoU 0.82); box 4 overlaps box 1 by 6/14 = 0.43 > 0.4: removed too
    assert non_maximum_suppression(boxes, scores) == [1, 2]
    assert non_maximum_suppression(boxes[[2, 4]], scores[[2, 4]]) == [0, 1]


def test_the_similarity_transform_undoes_rotation_scale_and_shift():
    angle, scale, shift = math.radians(30), 2.5, np.array([200.0, 120.0])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    placed = (ARCFACE_TEMPLATE @ rotation.T) * scale + shift
    matrix = similarity_transform(placed, ARCFACE_TEMPLATE.astype(np.float64))
    back = placed @ matrix[:, :2].T + matrix[:, 2]
    assert np.allclose(back, ARCFACE_TEMPLATE, atol=1e-3)


def test_alignment_puts_the_face_upright_on_the_template():
    """A face pattern rotated by 90 degrees in the photo comes out of the alignment as the upright one."""
    upright = np.zeros((112, 112, 3), np.uint8)
    upright[:28, :28] = (255, 0, 0)  # top-left of the aligned face
    rotated = cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE)
    # a clockwise quarter turn moves (x, y) to (111 - y, x)
    landmarks = [(111 - y, x) for x, y in ARCFACE_TEMPLATE]
    aligned = align_face(rotated, landmarks)
    assert aligned[:24, :24, 0].min() > 200 and aligned[40:, :, 0].max() < 30 and aligned[:, 40:, 0].max() < 30


def test_embeddings_are_512_d_normalised_and_follow_the_face_not_its_size(detector, embedder):
    small_scene, _ = sample_scene()
    large_scene = np.zeros((960, 1280, 3), np.uint8)
    paint_face(large_scene, (320, 192), 32, scale=2, dark_corner="top-left")  # the same face, twice as large
    paint_face(large_scene, (960, 640), 32, scale=2, dark_corner="top-right")  # another face
    [same] = [f for f in detector.detect(small_scene, 0.7) if f.box == (288, 192, 352, 256)]
    [large, other] = sorted(detector.detect(large_scene, 0.7), key=lambda face: face.box)
    [reference] = embedder.embed_faces(small_scene, [same])
    embeddings = embedder.embed_faces(large_scene, [large, other])
    assert embeddings.shape == (2, 512) and embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    distances = 1 - embeddings @ reference
    assert distances[0] < 0.01 and distances[1] > 0.5


def test_a_recognition_model_with_a_fixed_batch_size_embeds_face_by_face(tmp_path, detector, embedder):
    fixed = ArcFaceEmbedder(write_models(tmp_path / "antelopev2", recognition_batch=1) / "recognition" / "model.onnx")
    image, _ = sample_scene()
    faces = detector.detect(image, 0.7)
    assert np.allclose(fixed.embed_faces(image, faces), embedder.embed_faces(image, faces), atol=1e-6)
    assert fixed.embed_faces(image, []).shape == (0, 512)


def test_models_load_from_immichs_layout_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_MODEL_CACHE", str(tmp_path))
    write_models(tmp_path / "facial-recognition" / "buffalo_s")
    assert isinstance(load_face_model("buffalo_s", "detection"), ScrfdDetector)
    assert isinstance(load_face_model("buffalo_s", "recognition"), ArcFaceEmbedder)


def test_a_broken_model_file_fails_naming_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_MODEL_CACHE", str(tmp_path))
    model_file = tmp_path / "facial-recognition" / "buffalo_m" / "detection" / "model.onnx"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="'buffalo_m'.*could not be loaded") as error:
        load_face_model("buffalo_m", "detection")
    assert str(model_file) in str(error.value)


@pytest.fixture
def model_hub(tmp_path):
    """A local server answering Hugging Face's /<repo>/resolve/main/<path> URLs for immich-app/buffalo_m."""
    root = tmp_path / "hub"
    write_models(root / "immich-app" / "buffalo_m" / "resolve" / "main")
    requested = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requested
    server.shutdown()
    server.server_close()


def test_a_missing_model_is_downloaded_on_first_use_into_immichs_layout(monkeypatch, tmp_path, model_hub):
    url, requested = model_hub
    monkeypatch.setenv("ML_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ML_MODEL_DOWNLOAD_URL", url)
    detector = load_face_model("buffalo_m", "detection")
    folder = tmp_path / "cache" / "facial-recognition" / "buffalo_m"
    assert requested == ["/immich-app/buffalo_m/resolve/main/detection/model.onnx"]
    assert (folder / "detection" / "model.onnx").is_file() and not (folder / "recognition").exists()
    image, boxes = sample_scene()
    assert sorted(face.box for face in detector.detect(image, 0.7)) == sorted(boxes)
    load_face_model("buffalo_m", "detection")  # present now: no second download
    assert len(requested) == 1
    assert sorted(p.name for p in (folder / "detection").iterdir()) == ["model.onnx"]  # no partial file left


def test_a_model_the_source_lacks_fails_naming_model_and_folder_and_leaves_nothing(monkeypatch, tmp_path, model_hub):
    url, requested = model_hub
    monkeypatch.setenv("ML_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ML_MODEL_DOWNLOAD_URL", url)
    with pytest.raises(ModelUnavailable) as error:
        load_face_model("antelopev2", "recognition")
    folder = tmp_path / "cache" / "facial-recognition" / "antelopev2"
    assert "'antelopev2'" in str(error.value) and str(folder) in str(error.value) and "404" in str(error.value)
    assert requested == ["/immich-app/antelopev2/resolve/main/recognition/model.onnx"]
    assert not any(path.is_file() for path in folder.rglob("*"))


def test_without_internet_the_error_names_the_model_and_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("ML_MODEL_CACHE", str(tmp_path))
    monkeypatch.setenv("ML_MODEL_DOWNLOAD_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(ModelUnavailable) as error:
        load_face_model("buffalo_l", "detection")
    message = str(error.value)
    assert "'buffalo_l'" in message and str(tmp_path / "facial-recognition" / "buffalo_l") in message
    assert "could not be downloaded" in message
    monkeypatch.setenv("ML_MODEL_DOWNLOAD_URL", "")
    with pytest.raises(ModelUnavailable, match="downloads are turned off"):
        load_face_model("buffalo_l", "detection")
