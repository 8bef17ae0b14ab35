"""A small CLIP model generated at test time, in Immich's exact on-disk layout (no registry package ships CLIP
weights). The visual graph pools the normalised image's mean colour and projects it; the textual graph sums
a word table. Both map onto the same unit "concept" vectors, so "red" ranks a red image first, near-identical
images land within 0.01 cosine distance, and the real loading, preprocessing and tokenising code all run."""

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

IMAGE_SIZE = 32
CONTEXT_LENGTH = 77
MEAN = STD = (0.5, 0.5, 0.5)
COLOURS = ("red", "green", "blue")
# Normalised mean colour of a pure red, green and blue image: (x / 255 - 0.5) / 0.5.
PURE_COLOURS = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float32)
# Words beyond the colours: near-zero, so a sentence is dominated by its colour word.
FILLER_WORDS = ("a", "photo", "of", "the", "on", "dog", "beach")


def concept_vectors(dimension: int, seed: int) -> np.ndarray:
    """Orthonormal vectors, one per colour, random per model (another seed = another embedding space)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dimension, len(COLOURS))))
    return q.T.astype(np.float32)


def _save(graph, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def _visual(concepts: np.ndarray, rng) -> onnx.GraphProto:
    dimension = concepts.shape[1]
    projection = np.linalg.solve(PURE_COLOURS, concepts).astype(np.float32)  # pure colour -> its concept
    bias = (rng.normal(size=dimension) * 0.01).astype(np.float32)  # a grey image still has a direction
    return helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["colour"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["colour", "projection"], ["projected"]),
         helper.make_node("Add", ["projected", "bias"], ["embedding"])],
        "visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, dimension])],
        [numpy_helper.from_array(projection, "projection"), numpy_helper.from_array(bias, "bias")],
    )


def _vocabulary() -> dict[str, int]:
    return {word: index for index, word in enumerate(("<pad>", "<unk>", *COLOURS, *FILLER_WORDS))}


def _textual(concepts: np.ndarray, rng) -> onnx.GraphProto:
    vocabulary = _vocabulary()
    table = np.zeros((len(vocabulary), concepts.shape[1]), dtype=np.float32)  # <pad> and <unk> add nothing
    for index, colour in enumerate(COLOURS):
        table[vocabulary[colour]] = concepts[index]
    for word in FILLER_WORDS:
        table[vocabulary[word]] = rng.normal(size=concepts.shape[1]) * 0.005
    return helper.make_graph(
        [helper.make_node("Gather", ["table", "text"], ["words"], axis=0),
         helper.make_node("ReduceSum", ["words", "axis"], ["embedding"], keepdims=0)],
        "textual",
        [helper.make_tensor_value_info("text", TensorProto.INT32, [1, CONTEXT_LENGTH])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, concepts.shape[1]])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([1], dtype=np.int64), "axis")],
    )


def write_clip_model(cache: Path, name: str, dimension: int = 512, seed: int = 0) -> Path:
    """<cache>/clip/<name>/ with config.json, visual/ and textual/ as Immich lays a model out."""
    folder = cache / "clip" / name
    concepts = concept_vectors(dimension, seed)
    rng = np.random.default_rng(seed + 1000)
    _save(_visual(concepts, rng), folder / "visual" / "model.onnx")
    _save(_textual(concepts, rng), folder / "textual" / "model.onnx")
    (folder / "visual" / "preprocess_cfg.json").write_text(json.dumps({
        "size": [IMAGE_SIZE, IMAGE_SIZE], "mode": "RGB", "mean": list(MEAN), "std": list(STD),
        "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0,
    }))
    tokenizer = Tokenizer(models.WordLevel(_vocabulary(), unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "textual" / "tokenizer.json"))
    (folder / "textual" / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}))
    (folder / "config.json").write_text(json.dumps({
        "embed_dim": dimension,
        "vision_cfg": {"image_size": IMAGE_SIZE},
        "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": len(_vocabulary())},
    }))
    return folder
