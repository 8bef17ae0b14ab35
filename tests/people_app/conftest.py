import uuid

import numpy as np
import pytest

from media_app.models import Asset
from people_app.models import Face
from people_app.services import face_index

MODEL = "test-model"


@pytest.fixture(autouse=True)
def _fresh_face_index():
    face_index.forget_cache()
    yield
    face_index.forget_cache()


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def photo(owner, **fields) -> Asset:
    asset_id = uuid.uuid4()
    return Asset.objects.create(id=asset_id, owner=owner, type="image", original_path=f"/nowhere/{asset_id}.jpg",
                                original_filename=f"{asset_id}.jpg", checksum=asset_id.hex[:40], width=1000,
                                height=800, **fields)


def add_face(asset, vector, **fields) -> Face:
    """A detected face, as the detection job stores it (which tells the index)."""
    face_index.bump(asset.owner_id)
    return Face.objects.create(asset=asset, x1=10, y1=10, x2=110, y2=130, image_width=asset.width or 1000,
                               image_height=asset.height or 800, score=0.99, model_name=MODEL,
                               embedding=Face.pack(unit(vector)), **fields)


def blobs(rng, centres: int, per_centre: int, dim: int = 64, spread: float = 0.05):
    """Well-separated clusters: random unit centres (nearly orthogonal in 64-d) plus small noise."""
    points, labels = [], []
    for label in range(centres):
        centre = unit(rng.normal(size=dim))
        for _ in range(per_centre):
            points.append(unit(centre + rng.normal(scale=spread, size=dim)))
            labels.append(label)
    return points, labels


# --- The real ML service (python -m ml_service), one process per test session ------------------------------


@pytest.fixture(scope="session")
def ml_service(tmp_path_factory):
    from tests.ml_service.conftest import start_service, stop_service

    service = start_service(tmp_path_factory.mktemp("ml"), ["-m", "ml_service"])
    yield service
    stop_service(service)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def use_ml(db, ml_service):
    """Point the Machine Learning URLs at the given service(s); fresh URL health in this process."""
    from ml_client import client as ml_client
    from settings_app.services import save_values

    def use(*urls, **checks):
        ml_client.forget_health()
        values = {"machineLearning.urls": list(urls or [ml_service.url])}
        values.update({f"machineLearning.availabilityChecks.{k}": v for k, v in checks.items()})
        result = save_values(values)
        assert result.ok, result.errors

    use()
    yield use
    ml_client.forget_health()
