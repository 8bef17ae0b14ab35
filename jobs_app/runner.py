"""What a django-q2 pool process executes for each claimed job (the task's `func`): run the job's
handler and record the outcome under the claim's token."""

import logging
import os
import traceback

from django_q.exceptions import TimeoutException

from settings_app.services import get_config

from . import engine, shared
from .handlers import RetryLater, get_handler
from .models import Job, QueueRun
from .queues import QUEUES_BY_NAME

log = logging.getLogger(__name__)


def run_job(job_id: int, token: str) -> str:
    try:
        get_config()  # each job starts with the current settings (and this process's listeners see changes)
        job = engine.begin(job_id, token, os.getpid())
        if job is None:
            return f"job {job_id}: no longer claimed by this worker (taken over or removed), not run"
        return _execute(job, token)
    finally:
        shared.add_in_flight(-1)
        shared.wake_local()  # a slot is free: the claimer need not wait for its next poll
        shared.publish(shared.SLOT_FREED)


def _execute(job: Job, token: str) -> str:
    handler = get_handler(job.name)
    try:
        if handler is None:
            raise LookupError(f"No handler is registered for the job {job.name}.")
        outcome = handler.func(job) or "done"
    except RetryLater as later:
        engine.retry_later(job, token, later.reason, later.delay)
        log.info("%s/%s #%s waits: %s", job.queue, job.name, job.pk, later.reason)
        return f"waiting: {later.reason}"
    except TimeoutException:
        timeout = QUEUES_BY_NAME[job.queue].timeout
        engine.fail(job, token, f"Timed out after {timeout} seconds.", retryable=False)
        _end_run(job)
        raise  # django-q2 replaces a process whose job timed out
    except Exception as error:
        state = engine.fail(job, token, "".join(traceback.format_exception(error)).strip())
        log.warning("%s/%s #%s failed (%s): %s", job.queue, job.name, job.pk, state, error)
        _end_run(job)
        return f"failed: {error}"
    if not engine.complete(job.pk, token):
        log.warning("%s/%s #%s finished after its claim was taken over; outcome not recorded",
                    job.queue, job.name, job.pk)
    _end_run(job)
    return outcome


def _end_run(job: Job) -> None:
    """A queue's "queue all" job is done: its run has queued everything it will."""
    queue = QUEUES_BY_NAME.get(job.queue)
    if job.run_id and queue and job.name == queue.queue_all_job:
        QueueRun.objects.filter(pk=job.run_id).update(enqueueing=False)
