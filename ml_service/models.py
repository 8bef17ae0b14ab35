"""Which models this service offers, where their files live, and the per-process model cache.

Models load lazily on first use, once per process (concurrent first requests wait for one load), and are
unloaded after ``ML_MODEL_TTL`` seconds without use, as Immich's MACHINE_LEARNING_MODEL_TTL.
"""

import ctypes
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ml_service.faces import BUNDLED_FACE_MODEL

log = logging.getLogger("ml_service")

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_TTL = 300.0

FACIAL_RECOGNITION = "facial-recognition"
CLIP = "clip"
OCR = "ocr"
DETECTION = "detection"
RECOGNITION = "recognition"
# Immich's task and type names
TASK_TYPES = {
    FACIAL_RECOGNITION: (DETECTION, RECOGNITION),
    CLIP: ("visual", "textual"),
    OCR: (DETECTION, RECOGNITION, "ocr"),
}
INSIGHTFACE_MODELS = ("antelopev2", "buffalo_l", "buffalo_m", "buffalo_s")
FACE_MODELS = (BUNDLED_FACE_MODEL, *INSIGHTFACE_MODELS)


class ModelUnavailable(Exception):
    """A known model that this process cannot run (files missing, task not served): a clear message for the
    job that asked, naming the model and where its files belong."""


def model_ttl() -> float:
    value = os.environ.get("ML_MODEL_TTL") or os.environ.get("MACHINE_LEARNING_MODEL_TTL")
    return float(value) if value else DEFAULT_MODEL_TTL


def inference_threads() -> int:
    """ML_THREADS, else at most 2: the server shares its cores with the web and job processes."""
    return max(1, int(os.environ.get("ML_THREADS") or min(2, os.cpu_count() or 1)))


def model_cache_dir() -> Path:
    """ML_MODEL_CACHE, else <DATA_DIR>/ml-models (DATA_DIR as the server reads it)."""
    if os.environ.get("ML_MODEL_CACHE"):
        return Path(os.environ["ML_MODEL_CACHE"]).resolve()
    return (Path(os.environ.get("DATA_DIR") or PROJECT_DIR / "data") / "ml-models").resolve()


def load_face_model(name: str, model_type: str):
    """A new detection or recognition model object (the caller caches it)."""
    if name == BUNDLED_FACE_MODEL:
        from ml_service.faces import FaceDetector, FaceEmbedder

        return FaceDetector() if model_type == DETECTION else FaceEmbedder()
    from ml_service.insightface import ArcFaceEmbedder, ScrfdDetector
    from ml_service.model_download import ModelDownloadFailed, ensure_model_files

    folder = model_cache_dir() / FACIAL_RECOGNITION / name
    model_file = f"{model_type}/model.onnx"
    try:
        ensure_model_files(name, folder, [model_file])
    except ModelDownloadFailed as reason:
        raise ModelUnavailable(
            f"Face model '{name}' is not installed in {folder} and could not be downloaded ({reason}): put "
            f"Immich's files for it there ({DETECTION}/model.onnx and {RECOGNITION}/model.onnx, from Hugging Face "
            f"immich-app/{name}), point the Machine Learning URL at an Immich ML server, or use the bundled model "
            f"'{BUNDLED_FACE_MODEL}'."
        )
    try:
        return (ScrfdDetector if model_type == DETECTION else ArcFaceEmbedder)(folder / model_file)
    except Exception as error:  # onnxruntime's errors for a truncated or foreign file have no common base
        raise ModelUnavailable(f"Face model '{name}': {folder / model_file} could not be loaded: {error}")


def _release_freed_memory() -> None:
    """Hand freed model memory back to the OS so the process's RSS really drops after an unload."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _describe(key: Hashable) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


@dataclass
class _Entry:
    model: object
    last_used: float
    users: int = 0


class ModelCache:
    """Loaded models by key, shared by the request threads of one process."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()  # guards _entries
        self._load_lock = threading.Lock()  # one load at a time: bounded peak memory, no double loads
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    @contextmanager
    def use(self, key: Hashable, load: Callable[[], object]):
        """The model for key, loaded by load() if absent; it is not unloaded while in use."""
        entry = self._acquire(key, load)
        try:
            yield entry.model
        finally:
            with self._lock:
                entry.users -= 1
                entry.last_used = self._clock()

    def _acquire(self, key, load) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry:
                entry.users += 1
                return entry
        with self._load_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry:  # loaded by another thread while this one waited
                    entry.users += 1
                    return entry
            started = time.monotonic()
            model = load()
            log.info("Loaded model %s in %.1f s", _describe(key), time.monotonic() - started)
            with self._lock:
                entry = self._entries[key] = _Entry(model, self._clock(), users=1)
                return entry

    def loaded(self) -> list:
        with self._lock:
            return list(self._entries)

    def evict_idle(self) -> list:
        """Unload the models unused for ttl seconds (none when ttl <= 0, Immich's "never unload")."""
        if self.ttl <= 0:
            return []
        now = self._clock()
        with self._lock:
            idle = [k for k, e in self._entries.items() if e.users == 0 and now - e.last_used >= self.ttl]
            for key in idle:
                del self._entries[key]
        if idle:
            _release_freed_memory()
            for key in idle:
                log.info("Unloaded model %s after %g s idle", _describe(key), self.ttl)
        return idle

    def start_reaper(self) -> None:
        if self.ttl <= 0 or self._reaper:
            return
        interval = max(0.05, min(self.ttl / 2, 10.0))

        def run() -> None:
            while not self._stop.wait(interval):
                self.evict_idle()

        self._reaper = threading.Thread(target=run, name="ml-model-reaper", daemon=True)
        self._reaper.start()

    def stop_reaper(self) -> None:
        self._stop.set()
