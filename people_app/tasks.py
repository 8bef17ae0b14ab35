"""Job handlers of the face queues: thin wrappers around people_app services. Imported by
PeopleAppConfig.ready(). Immich's chain: thumbnails -> AssetDetectFaces -> FacialRecognition per new face
-> PersonGenerateThumbnail per new person."""

import time

from django.dispatch import receiver

from jobs_app.handlers import job_handler
from jobs_app.models import Job, JobsMetadata
from jobs_app.queues import QUEUES_BY_NAME
from jobs_app.services import enqueue, enqueue_stream, report_progress
from jobs_app.tasks import register_item_source
from media_app.signals import metadata_extracted, thumbnails_generated
from settings_app.services import get_config, refresh_config

from .models import Face, Person
from .services import detection, metadata_faces, recognition, thumbnails

DETECTION = QUEUES_BY_NAME["faceDetection"]
RECOGNITION = QUEUES_BY_NAME["facialRecognition"]
THUMBNAILS = QUEUES_BY_NAME["thumbnailGeneration"]
RECOGNITION_STATE = "facial-recognition-state"
WAIT_FOR_QUEUES = (THUMBNAILS.name, DETECTION.name)


def queue_recognition(face_ids, run_id=None) -> int:
    return enqueue_stream(RECOGNITION.name, RECOGNITION.item_job, ({"id": face_id} for face_id in face_ids),
                          run_id=run_id)


# --- Face detection --------------------------------------------------------------------------------------

register_item_source(DETECTION.name, detection.asset_ids_to_detect)


@job_handler(DETECTION.item_job)
def detect_faces(job) -> str:
    refresh_config()  # a model or min score saved just before "Face Detection ALL" applies to it
    try:
        result = detection.detect_asset(job.data["id"])
    except detection.DetectionSkipped as skipped:
        return f"skipped: {skipped}"
    except Exception as error:  # kept on the asset for the person pages; the job fails (or waits) with it
        if not isinstance(error, detection.ml_client.MachineLearningUnavailable):
            detection.record_failure(job.data["id"], str(error))
        raise
    queue_recognition(result.new_faces)
    return result.describe()


@receiver(thumbnails_generated, dispatch_uid="people_app.detect_faces_of_new_assets")
def detect_faces_of_new_assets(sender, asset, source, **kwargs):
    """Immich: a new file's thumbnails are followed by face detection (not on "Generate Thumbnails ALL")."""
    if source in ("upload", "library", "watch") and not detection.disabled_reason(get_config()):
        enqueue(DETECTION.name, DETECTION.item_job, {"id": str(asset.pk)})
    # People imported from the file's metadata get their picture once the photo has a preview.
    for person_id in Person.objects.filter(faces__asset=asset, thumbnail_path="").values_list("pk", flat=True):
        thumbnails.queue_thumbnail(person_id)


metadata_extracted.connect(metadata_faces.on_metadata_extracted, dispatch_uid="people_app.import_metadata_faces")


# --- Facial recognition ----------------------------------------------------------------------------------


def _wait_for_detection(timeout: float) -> None:
    """Immich waits for thumbnails and face detection to finish before clustering a whole library."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Job.objects.filter(queue__in=WAIT_FOR_QUEUES, status=Job.ACTIVE).exists():
        time.sleep(1)


@job_handler(RECOGNITION.queue_all_job)
def recognize_all(job) -> str:
    """FacialRecognitionQueueAll: ALL re-clusters everything, MISSING the unassigned faces; the nightly run
    (data nightly) only when faces were added since the last run."""
    config = refresh_config()
    if reason := detection.disabled_reason(config):
        return f"skipped: {reason}"
    state, _ = JobsMetadata.objects.get_or_create(key=RECOGNITION_STATE)
    last_run = state.value.get("lastRun")
    if job.data.get("nightly") and last_run and not Face.objects.filter(created_at__gt=last_run).exists():
        return "skipped: no new faces since the last run"
    _wait_for_detection(RECOGNITION.timeout / 2)
    started = job.started_at or job.created_at
    face_ids = recognition.face_ids_to_recognize(job.data.get("force"))
    # One run in this job rather than a job per face (Immich): the neighbours of all faces come from a few
    # matrix products, which keeps a library of 100k faces in minutes.
    result = recognition.Clustering(config).run(face_ids, progress=lambda percent: report_progress(job, percent))
    for person_id in result.created:
        thumbnails.queue_thumbnail(person_id)
    state.value = {**state.value, "lastRun": started.isoformat()}
    state.save(update_fields=["value", "updated_at"])
    totals = ", ".join(f"{count} {status}" for status, count in sorted(result.totals.items()))
    return f"clustered {len(face_ids)} face(s)" + (f": {totals}" if totals else "")


@job_handler(RECOGNITION.item_job)
def recognize_face(job) -> str:
    config = refresh_config()  # a max distance saved just before "Facial Recognition ALL" applies to it
    if reason := detection.disabled_reason(config):
        return f"skipped: {reason}"
    outcome = recognition.recognize_face(job.data["id"], config)
    if outcome.status == recognition.DEFERRED:
        # To the back of the queue, still counted in the run's progress.
        enqueue_stream(RECOGNITION.name, RECOGNITION.item_job, [{"id": outcome.face_id, "deferred": True}],
                       run_id=job.run_id)
    elif outcome.status == recognition.CREATED:
        thumbnails.queue_thumbnail(outcome.person_id)
    return outcome.describe()


@job_handler(thumbnails.PERSON_THUMBNAIL_JOB)
def generate_person_thumbnail(job) -> str:
    path = thumbnails.generate(job.data["id"])
    return f"person {job.data['id']}: " + (f"thumbnail {path.name}" if path else "no face to make a thumbnail from")
