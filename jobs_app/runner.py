"""What a django-q2 pool process executes for each claimed job (the task's `func`): run the job's
handler and record the outcome under the claim's token.

While it runs, the pool process names the job in its shared slot; the sentinel renews the leases of the
jobs named there, and of no other. An outcome the database will not take (disk full, an outage) is tried
again a few times; if it still fails the job is let go: its lease lapses and it runs again elsewhere."""

import logging
import os
import time
import traceback

from django.db import DatabaseError, close_old_connections
from django_q.exceptions import TimeoutException

from settings_app.services import get_config

from . import conf, engine, shared
from .handlers import RetryLater, get_handler
from .models import Job, QueueRun
from .queues import QUEUES_BY_NAME

log = logging.getLogger(__name__)


def run_job(job_id: int, token: str) -> str:
    shared.set_current_job(job_id)
    try:
        get_config()  # each job starts with the current settings (and this process's listeners see changes)
        job = engine.begin(job_id, token, os.getpid())
        if job is None:
            return f"job {job_id}: no longer claimed by this worker (taken over or removed), not run"
        return _execute(job, token)
    finally:
        shared.set_current_job(0)  # from now on nobody renews this job's lease
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
        _record_outcome(job, engine.fail, job, token, f"Timed out after {timeout} seconds.", retryable=False)
        _end_run(job)
        raise  # django-q2 replaces a process whose job timed out
    except Exception as error:
        state = _record_outcome(job, engine.fail, job, token, "".join(traceback.format_exception(error)).strip())
        log.warning("%s/%s #%s failed (%s): %s", job.queue, job.name, job.pk, state, error)
        _end_run(job)
        return f"failed: {error}"
    recorded = _record_outcome(job, engine.complete, job.pk, token)
    if recorded is False:
        log.warning("%s/%s #%s finished after its claim was taken over; outcome not recorded",
                    job.queue, job.name, job.pk)
    _end_run(job)
    return outcome if recorded else f"outcome not recorded: {outcome}"


def _record_outcome(job: Job, write, *args, **kwargs):
    """write(*args, **kwargs), tried again with a growing pause while the database refuses it. None when it
    never succeeded: the job is then left to its lease, which nobody renews any more."""
    for attempt in range(1, conf.OUTCOME_WRITE_ATTEMPTS + 1):
        try:
            return write(*args, **kwargs)
        except DatabaseError as error:
            close_old_connections()  # a broken connection is replaced on the next try
            if attempt == conf.OUTCOME_WRITE_ATTEMPTS:
                log.error("%s/%s #%s: its outcome could not be written (%s); it runs again once its lease "
                          "lapses", job.queue, job.name, job.pk, error)
                return None
            log.warning("%s/%s #%s: writing its outcome failed (%s); trying again (%d/%d)", job.queue, job.name,
                        job.pk, error, attempt, conf.OUTCOME_WRITE_ATTEMPTS - 1)
            time.sleep(conf.OUTCOME_RETRY_SECONDS * 2 ** (attempt - 1))


def _end_run(job: Job) -> None:
    """A queue's "queue all" job is done: its run has queued everything it will."""
    queue = QUEUES_BY_NAME.get(job.queue)
    if job.run_id and queue and job.name == queue.queue_all_job:
        QueueRun.objects.filter(pk=job.run_id).update(enqueueing=False)
