import io
import uuid

import numpy as np
import pytest
from PIL import Image

from jobs_app.handlers import get_handler
from jobs_app.models import Job
from search_app.services import index
from tests.media_app.photo_assets import add_asset
from tests.ml_service.clip_model import write_clip_model

MODEL = "ViT-B-32__openai"
SAME_SIZE_MODEL = "ViT-B-16__openai"
WIDER_MODEL = "ViT-L-14__openai"  # 768 dimensions


@pytest.fixture(autouse=True)
def _fresh_search_index():
    index.forget_cache()
    yield
    index.forget_cache()


@pytest.fixture(scope="session")
def clip_ml_service(tmp_path_factory):
    """The real ML service with generated CLIP models of Immich's layout in its model cache."""
    from tests.ml_service.conftest import start_service, stop_service

    folder = tmp_path_factory.mktemp("ml-search")
    write_clip_model(folder / "ml-models", MODEL, 512, seed=0)
    write_clip_model(folder / "ml-models", SAME_SIZE_MODEL, 512, seed=1)
    write_clip_model(folder / "ml-models", WIDER_MODEL, 768, seed=2)
    service = start_service(folder, ["-m", "ml_service"])
    yield service
    stop_service(service)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def use_clip_ml(db, clip_ml_service, media_root):
    from ml_client import client as ml_client
    from settings_app.services import save_values

    ml_client.forget_health()
    result = save_values({"machineLearning.urls": [clip_ml_service.url]})
    assert result.ok, result.errors
    yield clip_ml_service
    ml_client.forget_health()


def image_file(folder, rgb, size=(160, 120), noise=0, name=None, seed=0) -> str:
    pixels = np.full((size[1], size[0], 3), rgb, dtype=np.int16)
    if noise:
        pixels += np.random.default_rng(seed).integers(-noise, noise + 1, pixels.shape, dtype=np.int16)
    path = folder / (name or f"{uuid.uuid4().hex}.png")
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def photo(owner, folder, rgb, **kwargs):
    """An asset made as the server makes one: original stored, metadata read, thumbnails generated."""
    return add_asset(owner, image_file(folder, rgb, **kwargs))


def run_job(queue: str, name: str, **data) -> str:
    job = Job.objects.create(queue=queue, name=name, data=data)
    return get_handler(name).func(job)
