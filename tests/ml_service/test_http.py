"""The ML service over HTTP, as the server (or Immich's server) talks to it: Immich's protocol and errors."""

import json
import threading

import cv2
import numpy as np
import pytest
import requests

from ml_service.faces import BUNDLED_FACE_MODEL

from .faces_data import FACES, PHOTOS, iou, reference_boxes
from .insightface_models import sample_scene, write_models

FACE_ENTRIES = {
    "facial-recognition": {
        "detection": {"modelName": BUNDLED_FACE_MODEL, "options": {"minScore": 0.7}},
        "recognition": {"modelName": BUNDLED_FACE_MODEL},
    }
}


def faces_entries(min_score=0.7, model=BUNDLED_FACE_MODEL) -> str:
    return json.dumps(
        {
            "facial-recognition": {
                "detection": {"modelName": model, "options": {"minScore": min_score}},
                "recognition": {"modelName": model},
            }
        }
    )


def post(service, entries=None, image=None, text=None, timeout=120, **kwargs) -> requests.Response:
    data = {}
    if entries is not None:
        data["entries"] = entries if isinstance(entries, str) else json.dumps(entries)
    if text is not None:
        data["text"] = text
    files = {"image": ("blob", image, "image/jpeg")} if image is not None else None
    if files is None and "files" not in kwargs:
        files = {"placeholder": ("", b"")}  # still multipart/form-data, as the server's client sends
    return requests.post(f"{service.url}/predict", data=data, files=kwargs.get("files", files), timeout=timeout)


def predict_faces(service, name, folder=FACES, min_score=0.7) -> dict:
    response = post(service, faces_entries(min_score), (folder / name).read_bytes())
    assert response.status_code == 200, response.text
    return response.json()


def embedding(face) -> np.ndarray:
    assert isinstance(face["embedding"], str)  # a string-serialised array, as Immich sends it
    return np.array(json.loads(face["embedding"]), dtype=np.float32)


def test_ping_and_root(ml_service):
    response = requests.get(f"{ml_service.url}/ping", timeout=5)
    assert response.status_code == 200 and response.text == "pong"
    assert response.headers["Content-Type"].startswith("text/plain")
    response = requests.get(f"{ml_service.url}/", timeout=5)
    assert response.json() == {"message": "Immich ML"}


def test_unknown_paths_and_methods(ml_service):
    response = requests.get(f"{ml_service.url}/nothing", timeout=5)
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
    response = requests.get(f"{ml_service.url}/predict", timeout=5)
    assert response.status_code == 405 and response.json() == {"detail": "Method Not Allowed"}


def test_faces_with_boxes_scores_and_embeddings(ml_service):
    result = predict_faces(ml_service, "detection6.jpg")
    assert (result["imageWidth"], result["imageHeight"]) == (667, 1000)
    faces = sorted(result["facial-recognition"], key=lambda face: face["boundingBox"]["x1"])
    assert len(faces) == 2
    for face, reference in zip(faces, reference_boxes()["detection6.jpg"], strict=True):
        box = face["boundingBox"]
        assert set(box) == {"x1", "y1", "x2", "y2"} and all(isinstance(v, int) for v in box.values())
        assert iou((box["x1"], box["y1"], box["x2"], box["y2"]), reference) > 0.6
        assert 0.7 <= face["score"] <= 1
        vector = embedding(face)
        assert vector.shape == (512,) and abs(np.linalg.norm(vector) - 1) < 1e-4


def test_the_same_person_is_closer_than_two_different_people(ml_service):
    def vector(name):
        [face] = predict_faces(ml_service, name)["facial-recognition"]
        return embedding(face)

    man_1, man_2, lady = vector("Family2-Man1.jpg"), vector("Family2-Man2.jpg"), vector("Family2-Lady1.jpg")
    same = 1 - float(man_1 @ man_2)
    assert same < 0.5
    assert same < 1 - float(man_1 @ lady) and same < 1 - float(man_2 @ lady)


def test_min_score_filters_on_the_calibrated_score(ml_service):
    everything = predict_faces(ml_service, "obama.jpg", min_score=0.1)["facial-recognition"]
    assert len(everything) == 2  # the face and a hand that MTCNN alone scores 0.91
    face, hand = sorted(everything, key=lambda f: f["score"], reverse=True)
    assert hand["score"] < 0.7 <= face["score"]
    assert len(predict_faces(ml_service, "obama.jpg")["facial-recognition"]) == 1
    above_face = min(1.0, face["score"] + 0.01)
    assert predict_faces(ml_service, "obama.jpg", min_score=above_face)["facial-recognition"] == []


def test_a_photo_without_faces(ml_service):
    result = predict_faces(ml_service, "tanners_ridge.jpg", folder=PHOTOS)
    assert result["facial-recognition"] == [] and result["imageWidth"] > 0


def test_detection_alone_answers_boxes_without_embeddings(ml_service):
    entries = {"facial-recognition": {"detection": {"modelName": BUNDLED_FACE_MODEL}}}
    response = post(ml_service, entries, (FACES / "obama_small.jpg").read_bytes())
    [face] = response.json()["facial-recognition"]
    assert set(face) == {"boundingBox", "score"}


def test_ping_answers_while_a_prediction_runs(ml_service):
    done = threading.Event()
    image = (FACES / "obama3.jpg").read_bytes()

    def slow_predictions():
        for _ in range(3):
            post(ml_service, faces_entries(), image)
        done.set()

    worker = threading.Thread(target=slow_predictions)
    worker.start()
    pings = 0
    while not done.is_set():
        assert requests.get(f"{ml_service.url}/ping", timeout=1).text == "pong"
        pings += 1
    worker.join()
    assert pings > 1


MISSING_ENTRIES = [{"type": "missing", "loc": ["body", "entries"], "msg": "Field required", "input": None}]


@pytest.mark.parametrize(
    ("entries", "detail"),
    [
        (None, MISSING_ENTRIES),
        ("{not json", "Invalid request format."),
        ("[]", "Invalid request format."),
        ('{"facial-recognition": {"detection": {}}}', "Invalid request format."),
        ('{"facial-recognition": {"detection": {"modelName": 3}}}', "Invalid request format."),
        ('{"facial-recognition": "buffalo_l"}', "Invalid request format."),
    ],
)
def test_unreadable_entries_answer_422_like_immich(ml_service, entries, detail):
    response = post(ml_service, entries, (FACES / "obama_small.jpg").read_bytes())
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"faces": {"detection": {"modelName": "x"}}}, ["Unknown task 'faces'", "facial-recognition"]),
        ({"facial-recognition": {"embedding": {"modelName": "x"}}}, ["Unknown type 'embedding'", "detection"]),
        ({"facial-recognition": {"detection": {"modelName": "buffalo_xl"}}}, ["'buffalo_xl'", BUNDLED_FACE_MODEL]),
        (
            {"facial-recognition": {"detection": {"modelName": BUNDLED_FACE_MODEL, "options": {"minScore": 1.5}}}},
            ["minScore", "0 to 1", "1.5"],
        ),
        (
            {"facial-recognition": {"detection": {"modelName": BUNDLED_FACE_MODEL, "options": {"minScore": "hi"}}}},
            ["minScore", "'hi'"],
        ),
    ],
)
def test_unknown_tasks_types_models_and_options_answer_422_naming_them(ml_service, entries, words):
    response = post(ml_service, entries, (FACES / "obama_small.jpg").read_bytes())
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail


def test_no_image_and_no_text_answers_400(ml_service):
    response = post(ml_service, FACE_ENTRIES)
    assert response.status_code == 400
    assert response.json() == {"detail": "Either image or text must be provided"}


@pytest.mark.parametrize(
    ("image", "words"),
    [(b"", "empty"), (b"GIF89a but not really", "not a supported image format")],
)
def test_empty_or_undecodable_images_answer_400(ml_service, image, words):
    response = post(ml_service, FACE_ENTRIES, image)
    assert response.status_code == 400
    assert words in response.json()["detail"]


def test_text_for_faces_and_recognition_without_detection_answer_400(ml_service):
    response = post(ml_service, FACE_ENTRIES, text="a cat")
    assert response.status_code == 400 and "needs an image" in response.json()["detail"]
    entries = {"facial-recognition": {"recognition": {"modelName": BUNDLED_FACE_MODEL}}}
    response = post(ml_service, entries, (FACES / "obama_small.jpg").read_bytes())
    assert response.status_code == 400 and "depends on output of detection" in response.json()["detail"]


def test_a_broken_multipart_body_answers_400(ml_service):
    response = requests.post(
        f"{ml_service.url}/predict",
        data=b"--xyz\r\nContent-Disposition: form-data; name=\"entries\"\r\n\r\n{}",  # never terminated
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


def test_a_missing_immich_model_fails_naming_the_model_and_its_folder(ml_service):
    response = post(ml_service, faces_entries(model="buffalo_l"), (FACES / "obama_small.jpg").read_bytes())
    assert response.status_code == 500
    detail = response.json()["detail"]
    folder = ml_service.model_cache / "facial-recognition" / "buffalo_l"
    assert "'buffalo_l'" in detail and str(folder) in detail


def test_an_immich_face_model_in_the_cache_answers_faces_and_embeddings(ml_service):
    write_models(ml_service.model_cache / "facial-recognition" / "buffalo_s")
    image, boxes = sample_scene()
    png = cv2.imencode(".png", image[:, :, ::-1])[1].tobytes()  # OpenCV writes BGR
    response = post(ml_service, faces_entries(model="buffalo_s"), png)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["imageWidth"], answer["imageHeight"]) == (640, 480)
    faces = answer["facial-recognition"]
    assert sorted(tuple(face["boundingBox"].values()) for face in faces) == sorted(boxes)
    embeddings = np.array([json.loads(face["embedding"]) for face in faces])
    assert embeddings.shape == (4, 512) and np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    response = post(ml_service, faces_entries(min_score=0.95, model="buffalo_s"), png)
    assert len(response.json()["facial-recognition"]) == 3  # the dimmer face is under 0.95


def test_a_missing_clip_model_fails_naming_the_model_and_its_folder(ml_service):
    entries = {"clip": {"textual": {"modelName": "ViT-H-14__laion2b-s32b-b79k"}}}
    response = post(ml_service, entries, text="a dog on a beach")
    assert response.status_code == 500
    detail = response.json()["detail"]
    folder = ml_service.model_cache / "clip" / "ViT-H-14__laion2b-s32b-b79k"
    assert "'ViT-H-14__laion2b-s32b-b79k'" in detail and str(folder) in detail


def test_a_chunked_upload_without_content_length(ml_service):
    boundary = "immichboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="entries"\r\n\r\n{faces_entries()}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="blob"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + (FACES / "obama_small.jpg").read_bytes() + f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = requests.post(
        f"{ml_service.url}/predict",
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["facial-recognition"]) == 1


def test_url_encoded_entries_with_text_are_read(ml_service):
    response = requests.post(
        f"{ml_service.url}/predict", data={"entries": faces_entries(), "text": "a face"}, timeout=30
    )
    assert response.status_code == 400 and "needs an image" in response.json()["detail"]


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(ml_service):
    names = ["faces.jpg", "detection6.jpg", "Family1-Dad1.jpg", "test-image-person-group.jpg"]
    alone = [predict_faces(ml_service, name) for name in names]
    results = [None] * len(names)

    def run(index):
        results[index] = predict_faces(ml_service, names[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for together, single in zip(results, alone, strict=True):
        assert [face["boundingBox"] for face in together["facial-recognition"]] == [
            face["boundingBox"] for face in single["facial-recognition"]
        ]
        for a, b in zip(together["facial-recognition"], single["facial-recognition"], strict=True):
            assert float(embedding(a) @ embedding(b)) > 0.9999
