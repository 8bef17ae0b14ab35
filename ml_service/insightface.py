"""Immich's InsightFace face models (antelopev2, buffalo_l, buffalo_m, buffalo_s) run with onnxruntime.

The files are Immich's: ``facial-recognition/<name>/detection/model.onnx`` (an SCRFD detector, the
"RetinaFace" of InsightFace) and ``recognition/model.onnx`` (ArcFace). Images are RGB ``uint8`` arrays;
boxes are ``(x1, y1, x2, y2)`` in that array's pixels, as for the bundled model.

Detection (SCRFD): the image is scaled to fit 640x640 (aspect kept, placed top-left, the rest black),
normalised to ``(rgb - 127.5) / 128``. The network answers, for each stride 8, 16 and 32, a score, four
box distances and five landmark offsets per anchor, in the order scores(8, 16, 32), boxes(...),
landmarks(...). Anchors sit at ``(column, row) * stride`` of the stride's grid, two per position; distances
are in strides: ``box = (cx - d0, cy - d1, cx + d2, cy + d3) * stride``. Candidates scoring at least
``minScore`` (Immich's ``det_thresh``) are kept, overlapping ones (IoU > 0.4) removed, best first.

Recognition (ArcFace): each face is aligned by the similarity transform (least squares) that maps its five
landmarks onto ArcFace's 112x112 template, normalised to ``(rgb - 127.5) / 127.5``; the 512-d output is
L2-normalised. All of Immich's four models take that normalisation (older mxnet exports that normalise
inside the graph are not among them).
"""

from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from ml_service.faces import EMBEDDING_SIZE, DetectedFace

DETECTION_SIZE = 640
DETECTION_MEAN, DETECTION_STD = 127.5, 128.0
STRIDES = (8, 16, 32)
ANCHORS_PER_POSITION = 2
NMS_THRESHOLD = 0.4

ALIGNED_SIZE = 112
RECOGNITION_MEAN, RECOGNITION_STD = 127.5, 127.5
# Where ArcFace expects the eyes, nose tip and mouth corners in its 112x112 input (image-left eye first)
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def _session(model_file: Path) -> onnxruntime.InferenceSession:
    from ml_service.app import inference_threads  # ML_THREADS, as OpenCV's; app loads this module lazily

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = inference_threads()
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


def _without_batch(output: np.ndarray) -> np.ndarray:
    """(anchors, values): the exports with a batch axis answer (1, anchors, values)."""
    return output[0] if output.ndim == 3 else output


def anchor_centres(stride: int, size: int = DETECTION_SIZE) -> np.ndarray:
    """(x, y) of each anchor of one stride, row by row, each position repeated for its two anchors."""
    cells = size // stride
    rows, columns = np.mgrid[:cells, :cells]
    centres = np.stack([columns, rows], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS_PER_POSITION, axis=0)


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, threshold: float = NMS_THRESHOLD) -> list[int]:
    """Indexes of the boxes kept, best score first: each drops the later ones overlapping it by IoU > threshold."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    kept = []
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(int(best))
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = overlap / np.maximum(areas[best] + areas[rest] - overlap, 1e-9)
        order = rest[iou <= threshold]
    return kept


class ScrfdDetector:
    """SCRFD face detection. One instance per process; onnxruntime sessions may be run from several threads."""

    def __init__(self, model_file: Path) -> None:
        self._session = _session(model_file)
        self._input = self._session.get_inputs()[0].name

    def detect(self, image: np.ndarray, min_score: float) -> list[DetectedFace]:
        """Faces in an RGB uint8 image scoring >= min_score, best first, with their five landmarks."""
        height, width = image.shape[:2]
        scale = DETECTION_SIZE / max(height, width)
        resized_size = (max(1, int(width * scale)), max(1, int(height * scale)))
        canvas = np.zeros((DETECTION_SIZE, DETECTION_SIZE, 3), np.float32)
        canvas[: resized_size[1], : resized_size[0]] = cv2.resize(image, resized_size)
        blob = ((canvas - DETECTION_MEAN) / DETECTION_STD).transpose(2, 0, 1)[np.newaxis]
        outputs = [_without_batch(output) for output in self._session.run(None, {self._input: blob})]
        levels = len(STRIDES)
        boxes, scores, landmarks = [], [], []
        for level, stride in enumerate(STRIDES):
            level_scores = outputs[level].reshape(-1)
            keep = np.flatnonzero(level_scores >= min_score)
            if not len(keep):
                continue
            centres = anchor_centres(stride)[keep]
            distances = outputs[level + levels][keep] * stride
            offsets = outputs[level + 2 * levels][keep].reshape(len(keep), -1, 2) * stride
            boxes.append(np.concatenate([centres - distances[:, :2], centres + distances[:, 2:4]], axis=1))
            landmarks.append(centres[:, np.newaxis, :] + offsets)
            scores.append(level_scores[keep])
        if not scores:
            return []
        boxes, scores, landmarks = np.concatenate(boxes), np.concatenate(scores), np.concatenate(landmarks)
        boxes /= scale
        landmarks /= scale
        np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
        return [
            DetectedFace(
                box=tuple(float(v) for v in boxes[i]),
                score=float(scores[i]),
                landmarks=tuple((float(x), float(y)) for x, y in landmarks[i]),
            )
            for i in non_maximum_suppression(boxes, scores)
        ]


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + translation mapping source points onto target points with the least
    squared error (Umeyama's method, reflections excluded)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    signs = np.array([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ np.diag(signs) @ vt
    scale = (singular * signs).sum() / max(float((source_centred**2).sum(axis=1).mean()), 1e-12)
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, np.newaxis]]).astype(np.float32)


def align_face(image: np.ndarray, landmarks) -> np.ndarray:
    """The 112x112 RGB crop in which the five landmarks sit on ArcFace's template."""
    matrix = similarity_transform(np.asarray(landmarks, np.float64), ARCFACE_TEMPLATE.astype(np.float64))
    return cv2.warpAffine(image, matrix, (ALIGNED_SIZE, ALIGNED_SIZE), borderValue=0.0)


class ArcFaceEmbedder:
    """ArcFace 512-d embeddings of aligned faces, L2-normalised float32."""

    def __init__(self, model_file: Path) -> None:
        self._session = _session(model_file)
        model_input = self._session.get_inputs()[0]
        self._input = model_input.name
        self._batch_size = model_input.shape[0] if isinstance(model_input.shape[0], int) else None  # None: any

    def embed_faces(self, image: np.ndarray, faces: list[DetectedFace]) -> np.ndarray:
        """One row per face; every face needs its five landmarks (both detectors give them)."""
        if not faces:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        missing = [face for face in faces if face.landmarks is None]
        if missing:
            raise ValueError("ArcFace recognition needs the five face landmarks from detection.")
        crops = np.stack([align_face(image, face.landmarks) for face in faces]).astype(np.float32)
        blob = ((crops - RECOGNITION_MEAN) / RECOGNITION_STD).transpose(0, 3, 1, 2)
        step = self._batch_size or len(blob)
        rows = [self._session.run(None, {self._input: blob[start : start + step]})[0]
                for start in range(0, len(blob), step)]
        embeddings = np.concatenate(rows).reshape(len(faces), -1).astype(np.float32)
        return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
