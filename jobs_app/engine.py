"""The claim protocol every worker machine follows, on SQLite and PostgreSQL alike.

- claim: under the queue's row lock (PostgreSQL) or the single write lock (SQLite's IMMEDIATE
  transaction), count the queue's active jobs and claim at most `concurrency - active` waiting ones.
  The limit is read from get_config() on every pass, so a saved change applies within a second or so,
  and nothing is claimed while the queue is paused. Lowering the limit only stops new claims.
- lease: a claimed job carries a lease that its worker renews while alive. A job whose lease ran out
  (its worker was killed) goes back to waiting and runs again; tasks are idempotent.
- fence: each claim gets a token; a worker only records the outcome of the claim it holds, so a job
  that was taken over (or emptied) is never finished twice.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from settings_app.services import get_config

from . import conf
from .db import locked_row, retry_on_busy
from .models import Job, QueueState
from .queues import QUEUES_BY_NAME

log = logging.getLogger(__name__)


def concurrency_of(queue_name: str, config=None) -> int:
    queue = QUEUES_BY_NAME[queue_name]
    if queue.is_fixed:
        return 1
    return int((config or get_config()).get(queue.setting_path))


@dataclass(frozen=True)
class Claim:
    job_id: int
    token: str
    queue: str
    name: str


@retry_on_busy
def claim(queue_name: str, limit: int, worker_id: str) -> list[Claim]:
    """Claim up to `limit - active` ready jobs of one queue for this worker."""
    with transaction.atomic():
        state = locked_row(QueueState, name=queue_name)  # serialises claimers of this queue across machines
        if state.is_paused:
            return []
        now = timezone.now()
        active = Job.objects.filter(queue=queue_name, status=Job.ACTIVE).count()
        free = limit - active
        if state.hold_reason:  # held: one probe job per probe interval, none while one runs
            if active or (state.hold_probe_at and state.hold_probe_at > now):
                return []
            free = 1
        if free <= 0:
            return []
        rows = list(
            Job.objects.filter(queue=queue_name, status=Job.WAITING, run_at__lte=now)
            .order_by("priority", "id").values_list("id", "name")[:free]
        )
        if not rows:
            return []
        token = uuid.uuid4().hex
        if state.hold_reason:
            QueueState.objects.filter(pk=queue_name).update(
                hold_probe_at=now + timedelta(seconds=state.hold_probe_seconds))
        Job.objects.filter(id__in=[job_id for job_id, _ in rows]).update(
            status=Job.ACTIVE, claimed_by=worker_id, claim_token=token, executor_pid=None,
            lease_until=now + timedelta(seconds=conf.LEASE_SECONDS), started_at=now, runs=F("runs") + 1,
        )
    return [Claim(job_id, token, queue_name, name) for job_id, name in rows]


def claim_ready(queue_names, worker_id: str, skip=frozenset(), found_empty: set | None = None) -> list[Claim]:
    """One pass over the queues: cheap reads first, a write transaction only where there is something
    to claim (so idle workers do not take SQLite's write lock). Queues in `skip` were found empty a
    moment ago and are not looked at; queues found empty now are added to `found_empty`."""
    config = get_config()
    now = timezone.now()
    paused = set(QueueState.objects.filter(Q(is_paused=True) | (~Q(hold_reason="") & Q(hold_probe_at__gt=now)))
                 .values_list("name", flat=True))
    active = dict(
        Job.objects.filter(status=Job.ACTIVE).values("queue").annotate(n=Count("id")).values_list("queue", "n")
    )
    claims = []
    for name in queue_names:
        limit = concurrency_of(name, config)
        if name in skip or name in paused or active.get(name, 0) >= limit:
            continue
        if Job.objects.filter(queue=name, status=Job.WAITING, run_at__lte=now).exists():
            claims += claim(name, limit, worker_id)
        elif found_empty is not None:
            found_empty.add(name)
    return claims


@retry_on_busy
def begin(job_id: int, token: str, pid: int) -> Job | None:
    """Mark the claimed job as executing in this process; None if the claim is no longer ours."""
    if not Job.objects.filter(id=job_id, claim_token=token, status=Job.ACTIVE).update(
        executor_pid=pid, started_at=timezone.now()
    ):
        return None
    return Job.objects.filter(id=job_id).first()


@retry_on_busy
def complete(job_id: int, token: str) -> bool:
    return bool(
        Job.objects.filter(id=job_id, claim_token=token, status=Job.ACTIVE).update(
            status=Job.COMPLETED, finished_at=timezone.now(), lease_until=None, executor_pid=None, error=""
        )
    )


@retry_on_busy
def fail(job: Job, token: str, error: str, retryable: bool = True) -> str:
    """Record a failed attempt: tried again after the queue's retry delay while attempts remain, else
    failed (kept, with the error, until retried or cleared)."""
    queue = QUEUES_BY_NAME.get(job.queue)
    failures = job.failures + 1
    now = timezone.now()
    pending = Job.objects.filter(id=job.id, claim_token=token, status=Job.ACTIVE)
    if retryable and queue and failures < queue.max_attempts:
        delay = queue.retry_delay * 2 ** (failures - 1)
        pending.update(status=Job.WAITING, failures=failures, error=error, run_at=now + timedelta(seconds=delay),
                       claimed_by="", claim_token="", executor_pid=None, lease_until=None)
        return Job.WAITING
    pending.update(status=Job.FAILED, failures=failures, error=error, finished_at=now, claimed_by="",
                   claim_token="", executor_pid=None, lease_until=None)
    return Job.FAILED


@retry_on_busy
def retry_later(job: Job, token: str, reason: str, delay: float) -> bool:
    """Put a job that could not run now back to waiting, after `delay` seconds; not counted as a failure."""
    return bool(Job.objects.filter(id=job.id, claim_token=token, status=Job.ACTIVE).update(
        status=Job.WAITING, error=reason, run_at=timezone.now() + timedelta(seconds=delay), claimed_by="",
        claim_token="", executor_pid=None, lease_until=None))


@retry_on_busy
def renew_leases(worker_id: str) -> int:
    """Extend the leases of this worker's jobs: those executing, and those claimed moments ago that a
    pool process has not picked up yet (a claim nobody picks up lapses and runs elsewhere)."""
    now = timezone.now()
    lease = timedelta(seconds=conf.LEASE_SECONDS)
    return Job.objects.filter(status=Job.ACTIVE, claimed_by=worker_id).filter(
        Q(executor_pid__isnull=False) | Q(started_at__gte=now - lease)
    ).update(lease_until=now + lease)


def _give_back(jobs, now, *, lost: bool, reason: str) -> int:
    """Return active jobs to the queue; a job lost too often is failed instead. Returns how many."""
    failed = 0
    if lost:
        failed = jobs.filter(lost__gte=conf.MAX_LOST - 1).update(
            status=Job.FAILED, lost=F("lost") + 1, finished_at=now, claimed_by="", claim_token="",
            executor_pid=None, lease_until=None,
            error=f"{reason} {conf.MAX_LOST} times while running this job; it is not tried again automatically.",
        )
    return failed + jobs.update(
        status=Job.WAITING, run_at=now, claimed_by="", claim_token="", executor_pid=None, lease_until=None,
        **({"lost": F("lost") + 1} if lost else {}),
    )


@retry_on_busy
def reclaim_expired() -> int:
    """Jobs whose worker stopped renewing its lease run again (any worker may do this)."""
    # The time is taken before waiting for the write lock: after a long database stall, leases that
    # ran out during the stall (nobody could renew them) are not mistaken for dead workers.
    cutoff = timezone.now()
    with transaction.atomic():
        expired = Job.objects.filter(status=Job.ACTIVE, lease_until__lt=cutoff)
        count = _give_back(expired, timezone.now(), lost=True, reason="The worker holding it stopped")
    if count:
        log.warning("%d job(s) of a worker that stopped responding are queued again", count)
    return count


@retry_on_busy
def release_executor(worker_id: str, pid: int, *, timed_out: bool, timeout: int | None = None) -> int:
    """The pool process `pid` of this worker died: its job runs again, or fails if it timed out."""
    with transaction.atomic():
        now = timezone.now()
        jobs = Job.objects.filter(status=Job.ACTIVE, claimed_by=worker_id, executor_pid=pid)
        if timed_out:
            return jobs.update(status=Job.FAILED, failures=F("failures") + 1, finished_at=now, claimed_by="",
                               claim_token="", executor_pid=None, lease_until=None,
                               error=f"Timed out after {timeout} seconds; the worker process was stopped." if timeout
                               else "Timed out; the worker process was stopped.")
        return _give_back(jobs, now, lost=True, reason="The worker process died")


@retry_on_busy
def release_worker(worker_id: str, job_ids=None) -> int:
    """A stopping worker hands back jobs it claimed but will not finish (not counted as lost)."""
    jobs = Job.objects.filter(status=Job.ACTIVE, claimed_by=worker_id)
    if job_ids is not None:
        jobs = jobs.filter(id__in=list(job_ids))
    return _give_back(jobs, timezone.now(), lost=False, reason="")
