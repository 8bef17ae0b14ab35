"""The face queues' jobs: recognition queue-all (reset, missing, nightly only with new faces), per-face
recognition queueing person thumbnails, the thumbnail crop itself."""

import numpy as np
import pytest
from PIL import Image

from jobs_app.handlers import get_handler
from jobs_app.models import Job, JobsMetadata
from jobs_app.schedules import fire_nightly
from people_app.models import Face, Person
from people_app.services import detection, thumbnails
from settings_app.services import get_config, save_values
from tests.media_app.photo_assets import add_asset
from tests.ml_service.faces_data import FACES

from .conftest import add_face, blobs, photo

pytestmark = pytest.mark.django_db


def run(job: Job) -> str:
    return get_handler(job.name).func(job)


def queued(name: str) -> list[Job]:
    return list(Job.objects.filter(name=name, status=Job.WAITING).order_by("id"))


def test_recognition_all_clusters_in_one_job_with_progress_and_queues_person_thumbnails(user):
    assert save_values({"machineLearning.facialRecognition.minFaces": 2}).ok
    points, _ = blobs(np.random.default_rng(2), 1, 3)
    for point in points:
        add_face(photo(user), point)
    job = Job.objects.create(queue="facialRecognition", name="FacialRecognitionQueueAll", data={"force": False},
                             status=Job.ACTIVE)
    assert run(job) == "clustered 3 face(s): 2 assigned, 1 created"
    assert Job.objects.get(pk=job.pk).progress >= 90  # reported while it ran
    (person,) = Person.objects.all()
    assert person.faces.count() == 3
    (thumbnail_job,) = queued("PersonGenerateThumbnail")
    assert thumbnail_job.data == {"id": str(person.pk)} and thumbnail_job.priority == -1


def test_recognition_jobs_per_new_face_place_it_and_queue_person_thumbnails(user):
    """Detection queues one FacialRecognition job per new face, as Immich."""
    assert save_values({"machineLearning.facialRecognition.minFaces": 2}).ok
    points, _ = blobs(np.random.default_rng(2), 1, 3)
    faces = [add_face(photo(user), point) for point in points]
    outcomes = [run(Job.objects.create(queue="facialRecognition", name="FacialRecognition", data={"id": str(f.pk)}))
                for f in faces]
    assert "created" in outcomes[0] and all("assigned" in outcome for outcome in outcomes[1:])
    (person,) = Person.objects.all()
    assert person.faces.count() == 3
    (thumbnail_job,) = queued("PersonGenerateThumbnail")
    assert thumbnail_job.data == {"id": str(person.pk)}


def test_the_nightly_run_skips_when_no_face_was_added(user):
    add_face(photo(user), np.ones(64))
    fire_nightly(get_config())
    (job,) = queued("FacialRecognitionQueueAll")
    assert job.data == {"force": False, "nightly": True}
    assert run(job) == "clustered 1 face(s): 1 noise"
    assert JobsMetadata.objects.get(key="facial-recognition-state").value["lastRun"]
    again = Job.objects.create(queue="facialRecognition", name="FacialRecognitionQueueAll",
                               data={"force": False, "nightly": True})
    assert run(again) == "skipped: no new faces since the last run"
    add_face(photo(user), np.ones(64))
    assert run(again) == "clustered 2 face(s): 2 deferred, 2 unassigned"  # two faces: under min faces 3


def test_recognition_all_resets_every_cluster(user):
    points, _ = blobs(np.random.default_rng(4), 1, 3)
    faces = [add_face(photo(user), p) for p in points]
    person = Person.objects.create(owner=user, name="Named")
    Face.objects.filter(pk__in=[f.pk for f in faces]).update(person=person)
    job = Job.objects.create(queue="facialRecognition", name="FacialRecognitionQueueAll", data={"force": True})
    assert run(job) == "clustered 3 face(s): 2 assigned, 1 created"
    (person,) = Person.objects.all()  # the named person was dissolved; the faces form a new one
    assert person.name == "" and person.faces.count() == 3


def test_switched_off_recognition_skips(user):
    assert save_values({"machineLearning.enabled": False}).ok
    job = Job.objects.create(queue="facialRecognition", name="FacialRecognition", data={"id": "x"})
    assert run(job) == "skipped: machine learning is disabled"


def test_person_thumbnail_is_a_square_crop_of_the_face(user, media_root, use_ml):
    asset = add_asset(user, FACES / "obama3.jpg")
    detection.detect_asset(asset.pk)
    face = Face.objects.get(asset=asset)
    person = Person.objects.create(owner=user, face=face)
    Face.objects.filter(pk=face.pk).update(person=person)
    job = Job.objects.create(queue="thumbnailGeneration", name="PersonGenerateThumbnail", data={"id": str(person.pk)})
    assert run(job).startswith(f"person {person.pk}: thumbnail")
    person.refresh_from_db()
    path = thumbnails.thumbnail_file(person)
    assert person.thumbnail_path and path.is_file()
    with Image.open(path) as image:
        assert image.size == (250, 250)
    # The crop is centred on the face: its box in the preview lies inside the crop.
    with Image.open(media_root / asset.preview_path) as preview:
        left, top, right, bottom = thumbnails.crop_box(face, *preview.size)
        x1, y1, x2, y2 = face.box_in(*preview.size)
        assert left <= x1 and top <= y1 and right >= x2 and bottom >= y2 and right - left == bottom - top
