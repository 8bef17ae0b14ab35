"""The claim protocol every worker machine follows, on SQLite and PostgreSQL alike.

- claim: under the queue's row lock (PostgreSQL) or the single write lock (SQLite's IMMEDIATE
  transaction), count the queue's active jobs and claim at most `concurrency - active` waiting ones.
  The limit is read from get_config() on every pass, so a saved change applies within a second or so,
  and nothing is claimed while the queue is paused. Lowering the limit only stops new claims.
- lease: a claimed job carries a lease that its worker renews while the pool process running it is alive
  and still on that job. A job whose lease ran out (its worker was killed, or its outcome could not be
  written) goes back to waiting and runs again; tasks are idempotent. A successor on the same machine does
  not wait for the leases of its dead predecessor (release_gone_workers).
- clock: leases are computed and compared with the database's clock (Now() in the statements), never a
  machine's own, so a machine whose clock is off neither takes over live jobs nor loses its own.
- fence: each claim gets a token; a worker only records the outcome of the claim it holds, so a job
  that was taken over (or emptied) is never finished twice.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Now

from settings_app.services import get_config

from . import conf, identity
from .db import database_now, locked_row, retry_on_busy
from .models import Job, QueueState, WorkerHeartbeat
from .queues import QUEUES_BY_NAME

log = logging.getLogger(__name__)


def seconds_from_now(seconds: float):
    """A time on the database's clock, for use in a query."""
    return Now() + timedelta(seconds=seconds)


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
def claim(queue_name: str, limit: int, worker_id: str, at_most: int | None = None) -> list[Claim]:
    """Claim up to `limit - active` ready jobs of one queue for this worker (and no more than `at_most`,
    the free processes of this machine)."""
    with transaction.atomic():
        state = locked_row(QueueState, name=queue_name)  # serialises claimers of this queue across machines
        if state.is_paused:
            return []
        active = Job.objects.filter(queue=queue_name, status=Job.ACTIVE).count()
        free = limit - active if at_most is None else min(limit - active, at_most)
        if state.hold_reason:  # held: one probe job per probe interval, none while one runs
            if active or (state.hold_probe_at and state.hold_probe_at > database_now()):
                return []
            free = min(free, 1)
        if free <= 0:
            return []
        rows = list(
            Job.objects.filter(queue=queue_name, status=Job.WAITING, run_at__lte=Now())
            .order_by("priority", "id").values_list("id", "name")[:free]
        )
        if not rows:
            return []
        token = uuid.uuid4().hex
        if state.hold_reason:
            QueueState.objects.filter(pk=queue_name).update(hold_probe_at=seconds_from_now(state.hold_probe_seconds))
        Job.objects.filter(id__in=[job_id for job_id, _ in rows]).update(
            status=Job.ACTIVE, claimed_by=worker_id, claim_token=token, executor_pid=None,
            lease_until=seconds_from_now(conf.LEASE_SECONDS), started_at=Now(), runs=F("runs") + 1,
        )
    return [Claim(job_id, token, queue_name, name) for job_id, name in rows]


def claim_ready(queue_names, worker_id: str, skip=frozenset(), found_empty: set | None = None,
                capacity: int | None = None) -> list[Claim]:
    """One pass over the queues: cheap reads first, a write transaction only where there is something
    to claim (so idle workers do not take SQLite's write lock). Queues in `skip` were found empty a
    moment ago and are not looked at; queues found empty now are added to `found_empty`. At most
    `capacity` jobs are claimed in all (the machine's free processes)."""
    config = get_config()
    now = database_now()
    paused = set(QueueState.objects.filter(Q(is_paused=True) | (~Q(hold_reason="") & Q(hold_probe_at__gt=now)))
                 .values_list("name", flat=True))
    active = dict(
        Job.objects.filter(status=Job.ACTIVE).values("queue").annotate(n=Count("id")).values_list("queue", "n")
    )
    claims = []
    for name in queue_names:
        free = None if capacity is None else capacity - len(claims)
        if free is not None and free <= 0:
            break
        limit = concurrency_of(name, config)
        if name in skip or name in paused or active.get(name, 0) >= limit:
            continue
        if Job.objects.filter(queue=name, status=Job.WAITING, run_at__lte=Now()).exists():
            claims += claim(name, limit, worker_id, free)
        elif found_empty is not None:
            found_empty.add(name)
    return claims


@retry_on_busy
def begin(job_id: int, token: str, pid: int) -> Job | None:
    """Mark the claimed job as executing in this process; None if the claim is no longer ours."""
    if not Job.objects.filter(id=job_id, claim_token=token, status=Job.ACTIVE).update(
        executor_pid=pid, started_at=Now(), progress=None
    ):
        return None
    return Job.objects.filter(id=job_id).first()


@retry_on_busy
def complete(job_id: int, token: str) -> bool:
    return bool(
        Job.objects.filter(id=job_id, claim_token=token, status=Job.ACTIVE).update(
            status=Job.COMPLETED, finished_at=Now(), lease_until=None, executor_pid=None, error=""
        )
    )


@retry_on_busy
def fail(job: Job, token: str, error: str, retryable: bool = True) -> str:
    """Record a failed attempt: tried again after the queue's retry delay while attempts remain, else
    failed (kept, with the error, until retried or cleared)."""
    queue = QUEUES_BY_NAME.get(job.queue)
    failures = job.failures + 1
    pending = Job.objects.filter(id=job.id, claim_token=token, status=Job.ACTIVE)
    if retryable and queue and failures < queue.max_attempts:
        delay = queue.retry_delay * 2 ** (failures - 1)
        pending.update(status=Job.WAITING, failures=failures, error=error, run_at=seconds_from_now(delay),
                       claimed_by="", claim_token="", executor_pid=None, lease_until=None)
        return Job.WAITING
    pending.update(status=Job.FAILED, failures=failures, error=error, finished_at=Now(), claimed_by="",
                   claim_token="", executor_pid=None, lease_until=None)
    return Job.FAILED


@retry_on_busy
def retry_later(job: Job, token: str, reason: str, delay: float) -> bool:
    """Put a job that could not run now back to waiting, after `delay` seconds; not counted as a failure."""
    return bool(Job.objects.filter(id=job.id, claim_token=token, status=Job.ACTIVE).update(
        status=Job.WAITING, error=reason, run_at=seconds_from_now(delay), claimed_by="",
        claim_token="", executor_pid=None, lease_until=None))


@retry_on_busy
def renew_leases(worker_id: str, running=()) -> int:
    """Extend the leases of this worker's jobs that are still going somewhere: each job a live pool process
    is running or starting now (`running`: its (pid, job id) pairs), and those claimed moments ago that a pool process
    has not picked up yet. Nothing else: a job whose process died, or whose outcome could not be written,
    keeps its lease no longer, so it lapses and the job runs again instead of staying active forever."""
    going = Q(executor_pid__isnull=True, started_at__gte=seconds_from_now(-conf.LEASE_SECONDS))
    for pid, job_id in running:
        # A pool process takes a job before `begin` records its pid, which a busy database can delay.
        going |= Q(id=job_id) & (Q(executor_pid=pid) | Q(executor_pid__isnull=True))
    return Job.objects.filter(going, status=Job.ACTIVE, claimed_by=worker_id).update(
        lease_until=seconds_from_now(conf.LEASE_SECONDS))


def _give_back(jobs, *, lost: bool, reason: str) -> int:
    """Return active jobs to the queue; a job lost too often is failed instead. Returns how many."""
    failed = 0
    if lost:
        failed = jobs.filter(lost__gte=conf.MAX_LOST - 1).update(
            status=Job.FAILED, lost=F("lost") + 1, finished_at=Now(), claimed_by="", claim_token="",
            executor_pid=None, lease_until=None,
            error=f"{reason} {conf.MAX_LOST} times while running this job; it is not tried again automatically.",
        )
    return failed + jobs.update(
        status=Job.WAITING, run_at=Now(), claimed_by="", claim_token="", executor_pid=None, lease_until=None,
        **({"lost": F("lost") + 1} if lost else {}),
    )


@retry_on_busy
def reclaim_expired() -> int:
    """Jobs whose worker stopped renewing its lease run again (any worker may do this)."""
    # The time is taken before waiting for the write lock: after a long database stall, leases that
    # ran out during the stall (nobody could renew them) are not mistaken for dead workers.
    cutoff = database_now()
    with transaction.atomic():
        expired = Job.objects.filter(status=Job.ACTIVE, lease_until__lt=cutoff)
        count = _give_back(expired, lost=True, reason="The worker holding it stopped")
    if count:
        log.warning("%d job(s) of a worker that stopped responding are queued again", count)
    return count


@retry_on_busy
def release_executor(worker_id: str, pid: int, *, timed_out: bool, timeout: int | None = None) -> int:
    """The pool process `pid` of this worker died: its job runs again, or fails if it timed out."""
    with transaction.atomic():
        jobs = Job.objects.filter(status=Job.ACTIVE, claimed_by=worker_id, executor_pid=pid)
        if timed_out:
            return jobs.update(status=Job.FAILED, failures=F("failures") + 1, finished_at=Now(), claimed_by="",
                               claim_token="", executor_pid=None, lease_until=None,
                               error=f"Timed out after {timeout} seconds; the worker process was stopped." if timeout
                               else "Timed out; the worker process was stopped.")
        return _give_back(jobs, lost=True, reason="The worker process died")


@retry_on_busy
def release_worker(worker_id: str, job_ids=None) -> int:
    """A stopping worker hands back jobs it claimed but will not finish (not counted as lost)."""
    jobs = Job.objects.filter(status=Job.ACTIVE, claimed_by=worker_id)
    if job_ids is not None:
        jobs = jobs.filter(id__in=list(job_ids))
    return _give_back(jobs, lost=False, reason="")


@retry_on_busy
def release_gone_workers(me: identity.WorkerIdentity) -> int:
    """At start-up: the jobs of workers that ran on this machine and are gone (a kill -9, a crash, the
    previous run of this service) run again at once instead of after their leases. A job that was running
    counts as lost once (it may be what killed its worker); one merely claimed does not."""
    known = set(Job.objects.filter(status=Job.ACTIVE).values_list("claimed_by", flat=True).distinct())
    known |= set(WorkerHeartbeat.objects.values_list("worker_id", flat=True))
    gone = sorted(worker_id for worker_id in known if worker_id and identity.is_gone(worker_id, me))
    if not gone:
        return 0
    with transaction.atomic():
        jobs = Job.objects.filter(status=Job.ACTIVE, claimed_by__in=gone)
        count = _give_back(jobs.filter(executor_pid__isnull=False), lost=True, reason="The worker holding it stopped")
        count += _give_back(jobs, lost=False, reason="")
        WorkerHeartbeat.objects.filter(worker_id__in=gone).delete()
    log.warning("worker(s) %s on this machine are gone: %d of their job(s) queued again", ", ".join(gone), count)
    return count


def live_worker_rows():
    """The workers that reported within WORKER_ALIVE_SECONDS (on the database's clock)."""
    return WorkerHeartbeat.objects.filter(last_seen__gte=seconds_from_now(-conf.WORKER_ALIVE_SECONDS))


def orphaned_jobs():
    """Active jobs that no live worker holds (its heartbeat stopped, or it was never seen)."""
    return Job.objects.filter(status=Job.ACTIVE).exclude(claimed_by__in=live_worker_rows().values("worker_id"))


@retry_on_busy
def requeue_orphaned_jobs() -> int:
    """The orphaned jobs go back to waiting, without counting as lost (the administrator decided). One
    statement, so a worker that reports back meanwhile keeps its jobs."""
    return _give_back(orphaned_jobs(), lost=False, reason="")
