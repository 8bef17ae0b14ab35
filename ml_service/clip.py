"""CLIP models in Immich's on-disk layout, run with onnxruntime (Immich's OpenCLIP encoders).

A model folder ``<cache>/clip/<model name>/`` holds ``config.json`` (``text_cfg.context_length``),
``visual/model.onnx`` (input ``image`` float32 [1, 3, S, S]) with ``visual/preprocess_cfg.json`` (size, mean,
std, interpolation, resize_mode) and ``textual/model.onnx`` (input ``text`` int32 [1, context length]) with
``textual/tokenizer.json`` and ``textual/tokenizer_config.json`` (pad_token). A missing model is downloaded
from Hugging Face ``immich-app/<model name>`` on first use, as Immich's ML service does (ml_service.model_download);
without internet the request fails naming the model and the folder."""

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from ml_service.model_download import ModelDownloadFailed
from ml_service.model_download import ensure_model_files as ensure_downloaded
from ml_service.models import CLIP, ModelUnavailable, inference_threads, model_cache_dir

log = logging.getLogger("ml_service")

VISUAL = "visual"
TEXTUAL = "textual"
DEFAULT_CONTEXT_LENGTH = 77
INTERPOLATIONS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def model_folder(name: str) -> Path:
    return model_cache_dir() / CLIP / name


def _required_files(folder: Path, model_type: str) -> list[Path]:
    if model_type == VISUAL:
        return [folder / VISUAL / "model.onnx", folder / VISUAL / "preprocess_cfg.json"]
    return [folder / TEXTUAL / "model.onnx", folder / TEXTUAL / "tokenizer.json",
            folder / TEXTUAL / "tokenizer_config.json"]


def ensure_model_files(name: str, model_type: str) -> Path:
    """The model's folder with the files this model type needs, downloaded first when missing."""
    folder = model_folder(name)
    required = [str(path.relative_to(folder)) for path in _required_files(folder, model_type)]
    try:
        ensure_downloaded(name, folder, required)
    except ModelDownloadFailed as reason:
        missing = ", ".join(path for path in required if not (folder / path).is_file())
        raise ModelUnavailable(
            f"CLIP model '{name}' is not installed ({reason}): put Immich's files for it ({missing}, from Hugging "
            f"Face immich-app/{name}) in {folder}, or point the Machine Learning URL at an Immich ML server."
        )
    return folder


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = inference_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _normalised(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class ClipVisual:
    """Image -> embedding: resize (shortest side then centre crop, or squash), scale to 0..1, normalise with
    the model's mean and std, NCHW."""

    def __init__(self, folder: Path) -> None:
        config = json.loads((folder / VISUAL / "preprocess_cfg.json").read_text())
        size = config["size"]
        self.size = int(size[0] if isinstance(size, list) else size)
        self.mean = np.asarray(config.get("mean", [0.48145466, 0.4578275, 0.40821073]), dtype=np.float32)
        self.std = np.asarray(config.get("std", [0.26862954, 0.26130258, 0.27577711]), dtype=np.float32)
        self.interpolation = INTERPOLATIONS.get(config.get("interpolation", "bicubic"), Image.Resampling.BICUBIC)
        self.resize_mode = config.get("resize_mode", "shortest")
        self.session = _session(folder / VISUAL / "model.onnx")

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        image = Image.fromarray(pixels).convert("RGB")
        if self.resize_mode == "squash":
            image = image.resize((self.size, self.size), self.interpolation)
        else:
            scale = self.size / min(image.size)
            width, height = max(self.size, round(image.width * scale)), max(self.size, round(image.height * scale))
            image = image.resize((width, height), self.interpolation)
            left, top = (width - self.size) // 2, (height - self.size) // 2
            image = image.crop((left, top, left + self.size, top + self.size))
        array = (np.asarray(image, dtype=np.float32) / 255.0 - self.mean) / self.std
        return np.ascontiguousarray(array.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        return _normalised(self.session.run(None, {"image": self.preprocess(pixels)})[0][0])


class ClipTextual:
    """Text -> embedding: the model's tokenizer, padded with its pad token and truncated to the context
    length, as int32."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        config_file = folder / "config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        context_length = int(config.get("text_cfg", {}).get("context_length", DEFAULT_CONTEXT_LENGTH))
        tokenizer_config = json.loads((folder / TEXTUAL / "tokenizer_config.json").read_text())
        pad_token = tokenizer_config["pad_token"]
        pad_token = pad_token["content"] if isinstance(pad_token, dict) else pad_token
        self.tokenizer = Tokenizer.from_file(str(folder / TEXTUAL / "tokenizer.json"))
        pad_id = self.tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ModelUnavailable(f"The tokenizer in {folder / TEXTUAL} has no pad token '{pad_token}'.")
        self.tokenizer.enable_padding(length=context_length, pad_token=pad_token, pad_id=pad_id)
        self.tokenizer.enable_truncation(max_length=context_length)
        self.session = _session(folder / TEXTUAL / "model.onnx")

    def tokenize(self, text: str) -> np.ndarray:
        return np.asarray([self.tokenizer.encode(text).ids], dtype=np.int32)

    def embed(self, text: str) -> np.ndarray:
        return _normalised(self.session.run(None, {"text": self.tokenize(text)})[0][0])


def load_clip_model(name: str, model_type: str):
    folder = ensure_model_files(name, model_type)
    try:
        return ClipVisual(folder) if model_type == VISUAL else ClipTextual(folder)
    except ModelUnavailable:
        raise
    except Exception as error:  # a corrupt or foreign file: say which model and folder
        raise ModelUnavailable(f"CLIP model '{name}' in {folder} could not be loaded: {error}")
