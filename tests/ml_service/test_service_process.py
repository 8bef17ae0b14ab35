"""The service started as `manage.py runml` with a tiny model TTL: models unload when idle and load again."""

import time

import requests

from .conftest import start_service, stop_service
from .faces_data import FACES
from .test_http import faces_entries


def test_runml_unloads_idle_models_and_loads_them_again(tmp_path):
    service = start_service(tmp_path, ["manage.py", "runml"], ML_MODEL_TTL="4")
    try:
        image = (FACES / "obama_small.jpg").read_bytes()

        def predict():
            response = requests.post(
                f"{service.url}/predict",
                data={"entries": faces_entries()},
                files={"image": ("blob", image)},
                timeout=120,
            )
            assert response.status_code == 200
            assert len(response.json()["facial-recognition"]) == 1

        predict()
        log = service.log()
        assert log.count("Loaded model facial-recognition/detection/bundled-mtcnn-facenet") == 1
        assert log.count("Loaded model facial-recognition/recognition/bundled-mtcnn-facenet") == 1
        predict()  # within the TTL: no second load
        assert service.log().count("Loaded model") == 2
        deadline = time.monotonic() + 20
        while service.log().count("Unloaded model") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert service.log().count("Unloaded model") == 2, service.log()
        predict()
        assert service.log().count("Loaded model") == 4
    finally:
        stop_service(service)
