"""The labelled face photos of the shared test data (README of TESTDATA/faces): who is where."""

import csv
from functools import cache

from tests.conftest import TESTDATA

FACES = TESTDATA / "faces"
PHOTOS = TESTDATA / "photos"
# photos with no face in them at all (landscapes, a chart)
NO_FACE_PHOTOS = ("tanners_ridge.jpg", "denali.webp", "HMD_Nokia_8.3_5G.jpg", "mongolels.jpg", "density_plot.png")


@cache
def people_by_file() -> dict[str, list[str]]:
    """File name -> the people in it, left to right."""
    with open(FACES / "labels.csv", newline="") as handle:
        return {row["file"]: row["persons_left_to_right"].split(";") for row in csv.DictReader(handle)}


@cache
def reference_boxes() -> dict[str, list[tuple[float, float, float, float]]]:
    """File name -> reference face boxes (x1, y1, x2, y2), left to right."""
    boxes: dict[str, list] = {}
    with open(FACES / "faces.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
            boxes.setdefault(row["file"], []).append((x, y, x + w, y + h))
    return boxes


def iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union else 0.0
