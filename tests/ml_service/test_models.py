"""The model cache (lazy, once per process, idle unload) and the model registry's errors."""

import threading
import time

import pytest

from ml_service import models
from ml_service.faces import BUNDLED_FACE_MODEL, FaceDetector, FaceEmbedder
from ml_service.models import ModelCache, ModelUnavailable, load_face_model


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Counted:
    """A model loader that counts its loads (slow enough for threads to pile up on the first one)."""

    def __init__(self):
        self.loads = 0

    def __call__(self):
        self.loads += 1
        time.sleep(0.05)
        return object()


def test_a_model_loads_once_for_concurrent_first_requests():
    cache, loader = ModelCache(ttl=300), Counted()
    seen = []

    def request():
        with cache.use("m", loader) as model:
            seen.append(model)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.loads == 1 and len({id(model) for model in seen}) == 1


def test_idle_models_unload_after_the_ttl_and_load_again_on_next_use():
    clock = FakeClock()
    cache, loader = ModelCache(ttl=300, clock=clock), Counted()
    with cache.use("m", loader):
        pass
    clock.now += 299
    assert cache.evict_idle() == [] and cache.loaded() == ["m"]
    clock.now += 2
    assert cache.evict_idle() == ["m"] and cache.loaded() == []
    with cache.use("m", loader):
        pass
    assert loader.loads == 2


def test_a_model_in_use_is_never_unloaded():
    clock = FakeClock()
    cache = ModelCache(ttl=10, clock=clock)
    with cache.use("m", Counted()):
        clock.now += 1000
        assert cache.evict_idle() == []
    clock.now += 5
    assert cache.evict_idle() == []  # idle time counts from the end of the last use
    clock.now += 5
    assert cache.evict_idle() == ["m"]


def test_ttl_zero_never_unloads():
    clock = FakeClock()
    cache = ModelCache(ttl=0, clock=clock)
    with cache.use("m", Counted()):
        pass
    clock.now += 10**6
    assert cache.evict_idle() == [] and cache.loaded() == ["m"]


def test_the_reaper_thread_unloads_on_its_own():
    cache = ModelCache(ttl=0.1)
    cache.start_reaper()
    try:
        with cache.use("m", Counted()):
            pass
        deadline = time.monotonic() + 5
        while cache.loaded() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cache.loaded() == []
    finally:
        cache.stop_reaper()


def test_a_failed_load_is_not_cached():
    cache = ModelCache(ttl=300)

    def broken():
        raise ModelUnavailable("no files")

    with pytest.raises(ModelUnavailable), cache.use("m", broken):
        pass
    assert cache.loaded() == []


def test_ttl_and_cache_folder_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ML_MODEL_TTL", raising=False)
    monkeypatch.delenv("MACHINE_LEARNING_MODEL_TTL", raising=False)
    assert models.model_ttl() == 300
    monkeypatch.setenv("MACHINE_LEARNING_MODEL_TTL", "60")  # Immich's name works too
    assert models.model_ttl() == 60
    monkeypatch.setenv("ML_MODEL_TTL", "5")
    assert models.model_ttl() == 5
    monkeypatch.delenv("ML_MODEL_CACHE", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert models.model_cache_dir() == tmp_path / "ml-models"
    monkeypatch.setenv("ML_MODEL_CACHE", str(tmp_path / "elsewhere"))
    assert models.model_cache_dir() == tmp_path / "elsewhere"


def test_the_bundled_model_loads_its_two_halves():
    assert isinstance(load_face_model(BUNDLED_FACE_MODEL, "detection"), FaceDetector)
    assert isinstance(load_face_model(BUNDLED_FACE_MODEL, "recognition"), FaceEmbedder)
