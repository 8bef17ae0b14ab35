"""OCR with RapidOCR's PP-OCR ONNX models, which ship inside the rapidocr-onnxruntime wheel (offline).

Immich's options act as in its ML service: the detection entry's ``maxResolution`` shrinks the image first
(longest side), ``minScore`` is the text-box threshold; the recognition entry's ``minScore`` drops text
recognised with a lower confidence. Boxes are answered as Immich's: four corners per box, flattened, as
fractions of the image's width and height."""

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ml_service.models import ModelUnavailable, inference_threads

# Immich's OCR model names (PP-OCRv5); every one runs on the bundled PP-OCRv4 models here.
OCR_MODELS = ("PP-OCRv5_server", "PP-OCRv5_mobile", "CH__PP-OCRv5_mobile", "EL__PP-OCRv5_mobile",
              "EN__PP-OCRv5_mobile", "ESLAV__PP-OCRv5_mobile", "KOREAN__PP-OCRv5_mobile",
              "LATIN__PP-OCRv5_mobile", "TH__PP-OCRv5_mobile")
DEFAULT_MIN_DETECTION_SCORE = 0.5
DEFAULT_MIN_RECOGNITION_SCORE = 0.8
DEFAULT_MAX_RESOLUTION = 736


@dataclass
class TextLine:
    corners: list[tuple[float, float]]  # four (x, y) in pixels of the image given
    text: str
    box_score: float
    text_score: float


class TextReader:
    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as error:
            raise ModelUnavailable(f"OCR needs the rapidocr-onnxruntime package (`make run` installs it): {error}")
        threads = inference_threads()
        self.engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, print_verbose=False)
        self._lock = threading.Lock()  # the engine keeps the per-call thresholds on itself
        self._detected: list[tuple[np.ndarray, float]] = []
        self.engine.text_det.postprocess_op = _Recorder(self.engine.text_det.postprocess_op, self)

    def read(self, pixels: np.ndarray, min_detection_score: float, min_recognition_score: float,
             max_resolution: int) -> tuple[list[TextLine], int, int]:
        """The text lines and the (width, height) of the image they were read on."""
        image = Image.fromarray(pixels)
        if max(image.size) > max_resolution:
            image.thumbnail((max_resolution, max_resolution), Image.Resampling.LANCZOS)
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        with self._lock:
            self._detected = []
            found, _ = self.engine(bgr, box_thresh=min_detection_score, text_score=min_recognition_score)
            detected = self._detected
        lines = [TextLine([(float(x), float(y)) for x, y in corners], text, _box_score(corners, detected),
                          float(score)) for corners, text, score in found or []]
        return [line for line in lines if line.text.strip()], image.width, image.height


class _Recorder:
    """Stands in for RapidOCR's detection post-processing, which computes each box's score but drops it:
    keeps (box, score) of the last call on the reader. Attribute reads and writes (the per-call thresholds)
    go to the wrapped object."""

    def __init__(self, postprocess, reader: TextReader) -> None:
        object.__setattr__(self, "_postprocess", postprocess)
        object.__setattr__(self, "_reader", reader)

    def __call__(self, *args, **kwargs):
        boxes, scores = self._postprocess(*args, **kwargs)
        self._reader._detected = [(np.asarray(box, dtype=np.float32), float(score))
                                  for box, score in zip(boxes, scores, strict=True)]
        return boxes, scores

    def __getattr__(self, name):
        return getattr(self._postprocess, name)

    def __setattr__(self, name, value):
        setattr(self._postprocess, name, value)


def _box_score(corners, detected) -> float:
    """The detection score of the detected box whose centre is nearest this result's box."""
    if not detected:
        return 0.0
    centre = np.asarray(corners, dtype=np.float32).mean(axis=0)
    distances = [float(np.linalg.norm(box.mean(axis=0) - centre)) for box, _ in detected]
    return detected[int(np.argmin(distances))][1]
