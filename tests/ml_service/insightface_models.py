"""Small ONNX models in Immich's InsightFace layout, generated with onnx.helper, and the images they "see".

The real weights cannot be fetched here, so the tests run every real code path (onnxruntime sessions, SCRFD
decoding, NMS, alignment, ArcFace batching) on stand-ins with the same inputs and outputs:

- detection (SCRFD-shaped: input (1, 3, h, w); outputs scores, boxes, landmarks for strides 8/16/32, two
  anchors per position): a "face" of stride s is a square of side 2 s in one colour channel (red for 8,
  green for 16, blue for 32) centred on an anchor. The score of an anchor is a sigmoid of that channel's
  mean over the stride-sized cell around it; its box distances are 1 stride on each side, its landmarks
  sit where ArcFace's template puts them inside that box.
- recognition (ArcFace-shaped: input (N, 3, 112, 112), output (N, 512)): the mean of each channel over a
  4x4 grid of the aligned crop, minus that of a plain blue face, projected by a fixed random matrix. So
  the embedding depends on the pattern inside the face and where it sits after alignment.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ml_service.insightface import ARCFACE_TEMPLATE, DETECTION_MEAN, DETECTION_STD, STRIDES

CHANNEL_OF_STRIDE = {8: 0, 16: 1, 32: 2}
SCORE_SLOPE, SCORE_OFFSET = 6.0, 0.2  # sigmoid(6 * (mean - 0.2)) of the normalised channel
GRID = 4
OPSET = 17


def _constant(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def detection_model() -> onnx.ModelProto:
    nodes, initializers = [], [
        _constant("slope", np.float32(SCORE_SLOPE)),
        _constant("offset", np.float32(SCORE_OFFSET)),
        _constant("column", np.array([-1, 1], np.int64)),
        _constant("zero", np.float32(0)),
        _constant("one", np.float32(1)),
        _constant("box_repeats", np.array([1, 4], np.int64)),
        # landmark offsets in strides from the anchor, for a box spanning 1 stride on each side
        _constant("landmark_offsets", (ARCFACE_TEMPLATE / 56.0 - 1.0).reshape(1, 10).astype(np.float32)),
    ]
    scores, boxes, landmarks = [], [], []
    for stride in STRIDES:
        channel = CHANNEL_OF_STRIDE[stride]
        initializers += [_constant(f"start{stride}", [channel]), _constant(f"end{stride}", [channel + 1]),
                         _constant(f"axis{stride}", [1])]
        half = stride // 2
        nodes += [
            helper.make_node("Slice", ["input.1", f"start{stride}", f"end{stride}", f"axis{stride}"], [f"ch{stride}"]),
            # the cell centred on each anchor (anchors sit at multiples of the stride)
            helper.make_node("AveragePool", [f"ch{stride}"], [f"mean{stride}"], kernel_shape=[stride, stride],
                             strides=[stride, stride], pads=[half, half, 0, 0]),
            helper.make_node("Sub", [f"mean{stride}", "offset"], [f"centred{stride}"]),
            helper.make_node("Mul", [f"centred{stride}", "slope"], [f"logit{stride}"]),
            helper.make_node("Sigmoid", [f"logit{stride}"], [f"cell{stride}"]),
            helper.make_node("Reshape", [f"cell{stride}", "column"], [f"position{stride}"]),
            helper.make_node("Concat", [f"position{stride}", f"position{stride}"], [f"pair{stride}"], axis=1),
            helper.make_node("Reshape", [f"pair{stride}", "column"], [f"score_{stride}"]),
            helper.make_node("Mul", [f"score_{stride}", "zero"], [f"nothing{stride}"]),
            helper.make_node("Add", [f"nothing{stride}", "one"], [f"ones{stride}"]),
            helper.make_node("Tile", [f"ones{stride}", "box_repeats"], [f"bbox_{stride}"]),
            helper.make_node("Add", [f"nothing{stride}", "landmark_offsets"], [f"kps_{stride}"]),
        ]
        scores.append(helper.make_tensor_value_info(f"score_{stride}", TensorProto.FLOAT, [None, 1]))
        boxes.append(helper.make_tensor_value_info(f"bbox_{stride}", TensorProto.FLOAT, [None, 4]))
        landmarks.append(helper.make_tensor_value_info(f"kps_{stride}", TensorProto.FLOAT, [None, 10]))
    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])
    graph = helper.make_graph(nodes, "scrfd-test", [image], scores + boxes + landmarks, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def recognition_model(*, batch: int | str = "N") -> onnx.ModelProto:
    """batch: "N" for a dynamic batch axis, or a fixed size (some exports only take 1)."""
    cell = 112 // GRID
    plain_blue = np.full((3, GRID, GRID), -1.0, np.float32)
    plain_blue[2] = 1.0
    projection = np.random.default_rng(112).normal(size=(3 * GRID * GRID, 512)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["grid"], kernel_shape=[cell, cell], strides=[cell, cell]),
        helper.make_node("Sub", ["grid", "plain_blue"], ["pattern"]),
        helper.make_node("Flatten", ["pattern"], ["features"]),
        helper.make_node("MatMul", ["features", "projection"], ["683"]),
    ]
    initializers = [_constant("plain_blue", plain_blue[np.newaxis]), _constant("projection", projection)]
    face = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])
    embedding = helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, 512])
    graph = helper.make_graph(nodes, "arcface-test", [face], [embedding], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def write_models(folder: Path, *, recognition_batch: int | str = "N") -> Path:
    """Immich's layout for one model: folder/detection/model.onnx and folder/recognition/model.onnx."""
    models = {"detection": detection_model(), "recognition": recognition_model(batch=recognition_batch)}
    for model_type, model in models.items():
        (folder / model_type).mkdir(parents=True, exist_ok=True)
        onnx.save(model, folder / model_type / "model.onnx")
    return folder


def expected_score(channel_value: int) -> float:
    """The test detector's score of a face filled with channel_value (0-255) in its central cell."""
    normalised = (channel_value - DETECTION_MEAN) / DETECTION_STD
    return float(1 / (1 + np.exp(-SCORE_SLOPE * (normalised - SCORE_OFFSET))))


def paint_face(image: np.ndarray, centre: tuple[int, int], stride: int, *, value: int = 255, scale: int = 1,
               dark_corner: str | None = None) -> tuple[int, int, int, int]:
    """A face the test detector finds at stride `stride` once the image is brought to 640 px (`scale` is the
    image's size over that), with an optional dark corner block ("top-left", "top-right", ...) as the
    pattern the test recogniser tells apart. Returns its box in the image's pixels."""
    side, (x, y) = 2 * stride * scale, centre
    x1, y1 = x - side // 2, y - side // 2
    image[y1 : y1 + side, x1 : x1 + side, CHANNEL_OF_STRIDE[stride]] = value
    if dark_corner:
        block = side // 4
        vertical, horizontal = dark_corner.split("-")
        top = y1 if vertical == "top" else y1 + side - block
        left = x1 if horizontal == "left" else x1 + side - block
        image[top : top + block, left : left + block] = 0
    return x1, y1, x1 + side, y1 + side


def sample_scene() -> tuple[np.ndarray, list]:
    """A 640x480 RGB image (not rescaled for detection) with a face for each stride and a dimmer one, and their
    boxes: small (stride 8), medium (16), large (32, dark top-left corner), dim (32, value 200)."""
    image = np.zeros((480, 640, 3), np.uint8)
    small = paint_face(image, (64, 64), 8)
    medium = paint_face(image, (128, 320), 16)
    large = paint_face(image, (320, 224), 32, dark_corner="top-left")
    dim = paint_face(image, (512, 416), 32, value=200)
    return image, [small, medium, large, dim]
