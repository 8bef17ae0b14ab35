"""The issue's "done when" on the labelled face photos of the shared test data (README of TESTDATA/faces),
with the real model through the real ML service: at max distance 0.5 / min faces 3 the people are exactly
the five the README lists, whatever the processing order; at min faces 2 family1_mom and family3_woman
appear too (the README's spurious pair of two strangers side by side in faces.jpg cannot form: one photo
never gives a person two faces); lowering the max distance never merges two people."""

import csv

import numpy as np
import pytest

from people_app.models import Face, Person
from people_app.services import detection, recognition
from settings_app.services import save_values
from tests.media_app.photo_assets import add_asset
from tests.ml_service.faces_data import FACES

from .conftest import photo

pytestmark = pytest.mark.django_db

FIVE_PEOPLE = {"obama": 3, "family1_dad": 3, "family1_daughter": 3, "family2_man": 4, "family2_woman": 4}
_DETECTED: list[tuple[str, str, tuple, bytes, float]] = []  # (file, label, box, embedding, score), once


def reference_faces() -> dict[str, list[tuple[tuple, str]]]:
    faces: dict[str, list] = {}
    with open(FACES / "faces.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
            faces.setdefault(row["file"], []).append(((x, y, x + w, y + h), row["person"]))
    return faces


def detect_once(user) -> list[tuple]:
    """Detect every photo through the service once per session; later tests rebuild the faces from it."""
    if _DETECTED:
        return _DETECTED
    references = reference_faces()
    for file in sorted(references):
        asset = add_asset(user, FACES / file)
        detection.detect_asset(asset.pk)
        for face in Face.objects.filter(asset=asset):
            box = (face.x1, face.y1, face.x2, face.y2)
            overlap, label = max((detection.iou(box, ref), label) for ref, label in references[file])
            _DETECTED.append((file, label if overlap > 0.3 else f"unlabelled:{file}", box, bytes(face.embedding),
                              face.score))
    Face.objects.all().delete()
    return _DETECTED


@pytest.fixture
def labelled_faces(user, media_root, use_ml) -> dict[str, str]:
    """The test photos' faces (face id -> person label), one asset per file."""
    detected = detect_once(user)
    assets, labels = {}, {}
    for file, label, box, embedding, score in detected:
        asset = assets.get(file) or assets.setdefault(file, photo(user))
        face = Face.objects.create(asset=asset, x1=box[0], y1=box[1], x2=box[2], y2=box[3], image_width=1000,
                                   image_height=1000, score=score, model_name="bundled-mtcnn-facenet",
                                   embedding=embedding)
        labels[str(face.pk)] = label
    from people_app.services import face_index

    face_index.bump(user.pk)
    return labels


def cluster(labels: dict[str, str], order: list[str], **settings) -> list[list[str]]:
    assert save_values({f"machineLearning.facialRecognition.{k}": v for k, v in settings.items()}).ok
    recognition.reset_clusters()
    recognition.cluster_faces(order)
    people = []
    for person in Person.objects.all():
        faces = list(person.faces.values_list("id", "asset_id"))
        assets = [asset for _, asset in faces]
        assert len(assets) == len(set(assets)), "a person has two faces of one photo"
        people.append(sorted(labels[str(face_id)] for face_id, _ in faces))
    return people


def orders(labels, count=5):
    ids = sorted(labels)
    yield ids
    yield ids[::-1]
    for seed in range(count):
        yield [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]


def test_every_labelled_face_is_detected(labelled_faces):
    found = sorted(label for label in labelled_faces.values())
    expected = sorted(label for faces in reference_faces().values() for _, label in faces)
    assert found == expected  # 30 faces, no false positive at the default min score


def test_max_distance_half_min_faces_three_gives_the_five_people_in_every_order(labelled_faces):
    for order in orders(labelled_faces):
        people = cluster(labelled_faces, order, maxDistance=0.5, minFaces=3)
        assert sorted(tuple(p) for p in people) == sorted((name,) * n for name, n in FIVE_PEOPLE.items())


def test_min_faces_two_adds_the_pairs_but_never_two_strangers_of_one_photo(labelled_faces):
    expected = {**FIVE_PEOPLE, "family1_mom": 2, "family3_woman": 2}
    for order in orders(labelled_faces):
        people = cluster(labelled_faces, order, maxDistance=0.5, minFaces=2)
        assert all(len(set(p)) == 1 for p in people), people  # nobody mixed
        assert sorted(tuple(p) for p in people) == sorted((name,) * n for name, n in expected.items())


@pytest.mark.parametrize("max_distance", [0.45, 0.4, 0.3, 0.2])
def test_lower_max_distance_never_merges_two_people(labelled_faces, max_distance):
    for order in orders(labelled_faces, count=2):
        for min_faces in (1, 2, 3):
            people = cluster(labelled_faces, order, maxDistance=max_distance, minFaces=min_faces)
            assert all(len(set(p)) == 1 for p in people), (max_distance, min_faces, people)
