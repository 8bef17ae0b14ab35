"""Job handlers of the face queues: thin wrappers around people_app services. Imported by
PeopleAppConfig.ready()."""

from jobs_app.handlers import job_handler
from jobs_app.queues import QUEUES_BY_NAME
from jobs_app.services import enqueue_stream
from jobs_app.tasks import register_item_source
from settings_app.services import refresh_config

from .services import recognition

RECOGNITION = QUEUES_BY_NAME["facialRecognition"]

register_item_source(RECOGNITION.name, recognition.face_ids_to_recognize)


@job_handler(RECOGNITION.item_job)
def recognize_face(job) -> str:
    refresh_config()  # a max distance saved just before "Facial Recognition ALL" applies to it
    outcome = recognition.recognize_face(job.data["id"])
    if outcome.status == recognition.DEFERRED:
        # To the back of the queue, still counted in the run's progress.
        enqueue_stream(RECOGNITION.name, RECOGNITION.item_job, [{"id": outcome.face_id, "deferred": True}],
                       run_id=job.run_id)
    return outcome.describe()
