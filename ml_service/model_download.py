"""Fetching a missing model's files into the model cache on first use, from where Immich's ML service gets
them: the Hugging Face repository ``immich-app/<model name>``, whose files sit in the same layout as the
cache folder (``detection/model.onnx``, ...).

``ML_MODEL_DOWNLOAD_URL`` changes the source (a mirror; tests use a local server speaking the same
``/<repo>/resolve/main/<path>`` URLs); set it empty to never download. A file is written beside its final
name and renamed when complete, so an interrupted download never leaves a truncated model behind.
"""

import logging
import os
import tempfile
from pathlib import Path

import requests

log = logging.getLogger("ml_service")

DEFAULT_DOWNLOAD_URL = "https://huggingface.co"
REPOSITORY_OWNER = "immich-app"
CONNECT_TIMEOUT = 10  # seconds; without internet the name lookup fails at once anyway
READ_TIMEOUT = 60  # seconds between two chunks
CHUNK_SIZE = 1 << 20


class ModelDownloadFailed(Exception):
    """The files could not be fetched; the message says why (no source, no connection, HTTP status)."""


def download_url() -> str:
    return os.environ.get("ML_MODEL_DOWNLOAD_URL", DEFAULT_DOWNLOAD_URL).strip().rstrip("/")


def ensure_model_files(model_name: str, folder: Path, relative_paths: list[str]) -> None:
    """Download those of relative_paths that are missing under folder, from immich-app/<model_name>."""
    missing = [path for path in relative_paths if not (folder / path).is_file()]
    if not missing:
        return
    source = download_url()
    if not source:
        raise ModelDownloadFailed("downloads are turned off (ML_MODEL_DOWNLOAD_URL is empty)")
    for path in missing:
        url = f"{source}/{REPOSITORY_OWNER}/{model_name}/resolve/main/{path}"
        log.info("Downloading %s to %s", url, folder / path)
        try:
            _download(url, folder / path)
        except requests.HTTPError as error:
            raise ModelDownloadFailed(f"{url} answered {error.response.status_code}")
        except requests.RequestException as error:  # requests' own text repeats the URL in several layers
            raise ModelDownloadFailed(f"{url} could not be reached ({type(error).__name__})")
        except OSError as error:
            raise ModelDownloadFailed(f"writing {folder / path} failed: {error.strerror or error}")


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as response:
        response.raise_for_status()
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                for chunk in response.iter_content(CHUNK_SIZE):
                    file.write(chunk)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
