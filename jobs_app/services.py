"""Queue commands and read models for the dashboard and the API. The one code path for queueing jobs
(`enqueue`, `enqueue_stream`) and for every administrator command on a queue."""

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Now, TruncMinute
from django.utils import timezone

from settings_app.registry import KEYS_BY_PATH
from settings_app.services import get_config

from . import conf, engine, shared
from .db import retry_on_busy
from .engine import concurrency_of, seconds_from_now
from .models import FinishedJobCount, Job, QueueRun, QueueState, WorkerHeartbeat
from .queues import BACKGROUND_TASK_NOT_PAUSABLE, QUEUES, QUEUES_BY_NAME, Queue, StartMode

log = logging.getLogger(__name__)

COMMANDS = ("start", "pause", "resume", "empty", "clear-failed", "retry-failed")
THROUGHPUT_MINUTES = 15


class JobCommandError(Exception):
    """A command the administrator gave cannot be carried out; the message says why."""


class QueueBusy(JobCommandError):
    """Starting a queue that is already running is refused, as Immich does ("Job is already running")."""


class UnknownQueue(JobCommandError):
    pass


def get_queue(name: str) -> Queue:
    try:
        return QUEUES_BY_NAME[name]
    except KeyError:
        raise UnknownQueue(f"Unknown queue “{name}”: expected one of {', '.join(QUEUES_BY_NAME)}.")


# --- Queueing ----------------------------------------------------------------------------------------


@retry_on_busy
def enqueue(queue_name: str, name: str, data: dict | None = None, *, dedupe_key: str | None = None,
            delay: float = 0, priority: int = 0, run: QueueRun | None = None,
            replace_waiting: bool = False) -> Job | None:
    """Queue one job. With a dedupe_key, nothing is queued (None) while a job with that key is pending.
    `replace_waiting` (with a dedupe_key and a delay: a debounce) replaces a job with that key that is still
    waiting, so its delay starts again; one already running is left alone and nothing is queued."""
    get_queue(queue_name)
    job = Job(queue=queue_name, name=name, data=data or {}, dedupe_key=dedupe_key, priority=priority, run=run,
              run_at=timezone.now() + timedelta(seconds=delay))
    try:
        with transaction.atomic():
            if replace_waiting and dedupe_key is not None:
                Job.objects.filter(dedupe_key=dedupe_key, status=Job.WAITING).delete()
            job.save()
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    transaction.on_commit(shared.publish)
    return job


def _batches(items: Iterable, size: int):
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


@retry_on_busy
def _insert_batch(queue_name: str, name: str, batch: list[dict], run_id: int | None) -> None:
    with transaction.atomic():
        Job.objects.bulk_create([Job(queue=queue_name, name=name, data=data, run_id=run_id) for data in batch])
        if run_id:
            QueueRun.objects.filter(pk=run_id).update(total=F("total") + len(batch))


def enqueue_stream(queue_name: str, name: str, items: Iterable[dict], *, run_id: int | None = None,
                   batch_size: int | None = None) -> int:
    """Queue one job per item of a (lazy) iterable, `batch_size` rows per short transaction, so that a
    "queue all" over a large library never holds every id in memory nor the database lock for long."""
    get_queue(queue_name)
    count = 0
    for batch in _batches(items, batch_size or conf.QUEUE_ALL_BATCH_SIZE):
        _insert_batch(queue_name, name, batch, run_id)
        count += len(batch)
        shared.publish()
    return count


# --- Retention ---------------------------------------------------------------------------------------


@retry_on_busy
def _delete_completed_batch(cutoff, batch_size: int) -> int:
    with transaction.atomic():
        ids = list(Job.objects.filter(status=Job.COMPLETED, finished_at__lt=cutoff).order_by()
                   .values_list("id", flat=True)[:batch_size])
        return Job.objects.filter(id__in=ids).delete()[0] if ids else 0


def purge_completed_jobs(now=None, *, batch_size: int = conf.PURGE_BATCH_SIZE) -> int:
    """The nightly cleanup of the job history: completed jobs finished more than the retention period ago
    are removed, `batch_size` rows per transaction so that other writers (workers finishing jobs) wait for
    one short batch at most, never for the whole purge. Failed jobs stay until cleared. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.COMPLETED_RETENTION_DAYS)
    removed = 0
    while batch := _delete_completed_batch(cutoff, batch_size):
        removed += batch
    return removed


# --- Reading -----------------------------------------------------------------------------------------


@dataclass
class Counts:
    """Immich's jobCounts."""

    active: int = 0
    completed: int = 0
    failed: int = 0
    delayed: int = 0
    waiting: int = 0
    paused: int = 0

    @property
    def pending(self) -> int:
        return self.active + self.waiting + self.delayed + self.paused

    def as_dict(self) -> dict:
        return {"active": self.active, "completed": self.completed, "failed": self.failed,
                "delayed": self.delayed, "waiting": self.waiting, "paused": self.paused}


def paused_queues() -> set[str]:
    return set(QueueState.objects.filter(is_paused=True).values_list("name", flat=True))


def held_queues() -> dict[str, str]:
    """Queues the server holds (see hold_queues), with the reason."""
    return dict(QueueState.objects.exclude(hold_reason="").values_list("name", "hold_reason"))


@retry_on_busy
def hold_queues(queue_names, reason: str, probe_seconds: float) -> list[str]:
    """Hold queues for a reason outside their jobs (e.g. a service they need does not answer): their jobs
    wait instead of failing, and one job is let through every `probe_seconds` to find out whether the
    reason is gone. The app that set the hold releases it (release_queues). Returns the queues newly held."""
    names = [get_queue(name).name for name in queue_names]
    with transaction.atomic():
        newly = list(QueueState.objects.filter(name__in=names, hold_reason="").values_list("name", flat=True))
        for name in names:
            QueueState.objects.get_or_create(name=name)
        QueueState.objects.filter(name__in=names).update(
            hold_reason=reason[:500], hold_probe_seconds=probe_seconds,
            hold_probe_at=seconds_from_now(probe_seconds))
    if newly:
        log.warning("queues %s held: %s", ", ".join(newly), reason)
    return newly


@retry_on_busy
def release_queues(queue_names) -> list[str]:
    """End a hold: the held jobs run at once. Returns the queues that were held."""
    held = list(QueueState.objects.filter(name__in=list(queue_names)).exclude(hold_reason="")
                .values_list("name", flat=True))
    if held:
        QueueState.objects.filter(name__in=held).update(hold_reason="", hold_probe_at=None)
        # Jobs that waited for the hold run now, not after their back-off.
        Job.objects.filter(queue__in=held, status=Job.WAITING, run_at__gt=Now()).update(run_at=Now())
        shared.publish()
        log.info("queues %s resumed", ", ".join(held))
    return held


def queue_counts() -> dict[str, Counts]:
    """Unfinished jobs are counted row by row (few, found through the indexes that start with the status);
    the finished history, which can be millions of rows, is read from its per-queue counters."""
    now = timezone.now()
    counts = {queue.name: Counts() for queue in QUEUES}
    pending = (Job.objects.filter(status__in=Job.PENDING).values_list("queue").order_by()
               .annotate(active=Count("id", filter=Q(status=Job.ACTIVE)),
                         waiting=Count("id", filter=Q(status=Job.WAITING, run_at__lte=now)),
                         delayed=Count("id", filter=Q(status=Job.WAITING, run_at__gt=now))))
    for queue, active, waiting, delayed in pending:
        if queue in counts:
            counts[queue].active, counts[queue].waiting, counts[queue].delayed = active, waiting, delayed
    for queue, completed, failed in FinishedJobCount.objects.values_list("queue", "completed", "failed"):
        if queue in counts:
            counts[queue].completed, counts[queue].failed = completed, failed
    for queue in paused_queues() & counts.keys():
        counts[queue].paused, counts[queue].waiting = counts[queue].waiting, 0
    return counts


@dataclass
class Progress:
    run: QueueRun
    pending: int

    @property
    def done(self) -> int:
        return max(0, self.run.total - self.pending)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.run.total) if self.run.total else 0

    @property
    def finished(self) -> bool:
        return not self.pending and not self.run.enqueueing


def current_progress() -> dict[str, Progress]:
    """The latest run (start) of each queue within the last day, with its pending job count."""
    since = timezone.now() - timedelta(days=1)
    latest = {}
    for run in QueueRun.objects.filter(started_at__gte=since).order_by("queue", "-started_at", "-id"):
        latest.setdefault(run.queue, run)
    pending = dict(
        Job.objects.filter(run__in=latest.values(), status__in=Job.PENDING)
        .values_list("run").annotate(n=Count("id")).order_by()
    )
    return {queue: Progress(run, pending.get(run.pk, 0)) for queue, run in latest.items()}


def throughput(minutes: int = THROUGHPUT_MINUTES) -> dict[str, list[int]]:
    """Jobs finished per minute over the last `minutes` minutes (oldest first), per queue."""
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    series = {queue.name: [0] * minutes for queue in QUEUES}
    rows = (Job.objects.filter(status__in=(Job.COMPLETED, Job.FAILED), finished_at__gte=start)
            .annotate(minute=TruncMinute("finished_at")).values_list("queue", "minute").annotate(n=Count("id"))
            .order_by())
    for queue, minute, n in rows:
        index = int((minute - start).total_seconds() // 60)
        if queue in series and 0 <= index < minutes:
            series[queue][index] += n
    return series


def disabled_reason(queue: Queue, config=None) -> str:
    """Why a queue cannot be started now (a feature it needs is switched off), else ""."""
    config = config or get_config()
    off = [KEYS_BY_PATH[path].label for path in queue.requires if not config.get(path)]
    return f"Disabled: turn on {' and '.join(off)} in the system settings." if off else ""


def report_progress(job: Job, percent: int) -> None:
    """A handler's progress (0-100) on the job it runs, shown on the jobs dashboard while it is active."""
    Job.objects.filter(pk=job.pk, status=Job.ACTIVE, claim_token=job.claim_token).update(progress=percent)


def running_progress() -> dict[str, list[Job]]:
    """Active jobs that report progress, by queue."""
    running: dict[str, list[Job]] = {}
    for job in Job.objects.filter(status=Job.ACTIVE, progress__isnull=False).order_by("started_at", "id"):
        running.setdefault(job.queue, []).append(job)
    return running


@dataclass
class QueueStatus:
    queue: Queue
    counts: Counts
    is_paused: bool
    concurrency: int
    progress: Progress | None = None
    sparkline: list[int] = field(default_factory=list)
    disabled: str = ""
    running: list[Job] = field(default_factory=list)
    hold_reason: str = ""

    @property
    def is_active(self) -> bool:
        return self.counts.active > 0

    @property
    def is_idle(self) -> bool:
        """Immich: idle = nothing active or waiting and not paused (start buttons show only then)."""
        return not self.counts.pending and not self.is_paused


def queue_statuses(with_details: bool = False) -> list[QueueStatus]:
    config = get_config()
    counts = queue_counts()
    paused = paused_queues()
    held = held_queues()
    progress = current_progress() if with_details else {}
    series = throughput() if with_details else {}
    running = running_progress() if with_details else {}
    return [
        QueueStatus(queue, counts[queue.name], queue.name in paused, concurrency_of(queue.name, config),
                    progress.get(queue.name), series.get(queue.name, []), disabled_reason(queue, config),
                    running.get(queue.name, []), held.get(queue.name, ""))
        for queue in QUEUES
    ]


def queue_status(name: str) -> QueueStatus:
    queue = get_queue(name)
    return next(status for status in queue_statuses() if status.queue is queue)


def failed_jobs(queue_name: str | None = None, limit: int = 50) -> list[Job]:
    jobs = Job.objects.filter(status=Job.FAILED).order_by("-finished_at", "-id")
    if queue_name:
        jobs = jobs.filter(queue=queue_name)
    return list(jobs[:limit])


def jobs_of(queue_name: str, status: str, limit: int = 1000) -> list[Job]:
    """Immich's GET /queues/:name/jobs?status=…"""
    jobs = Job.objects.filter(queue=queue_name).order_by("id")
    now = timezone.now()
    if status in ("waiting", "paused"):
        if (status == "paused") != (queue_name in paused_queues()):
            return []
        jobs = jobs.filter(status=Job.WAITING, run_at__lte=now)
    elif status == "delayed":
        jobs = jobs.filter(status=Job.WAITING, run_at__gt=now)
    else:
        jobs = jobs.filter(status=status)
    return list(jobs[:limit])


def live_workers() -> list[WorkerHeartbeat]:
    return list(engine.live_worker_rows().order_by("hostname", "pid"))


def stuck_job_count() -> int:
    """Active jobs whose worker is gone (normally their leases lapse and they run again by themselves)."""
    return engine.orphaned_jobs().count()


def requeue_stuck_jobs() -> str:
    """The administrator's "requeue stuck jobs": active jobs whose worker is gone wait to run again."""
    count = engine.requeue_orphaned_jobs()
    if count:
        shared.publish()
    if not count:
        return "No stuck jobs: every active job belongs to a running worker."
    return f"{count} stuck job{'s' if count != 1 else ''} queued again."


# --- Commands ----------------------------------------------------------------------------------------


def start_mode(queue: Queue, force: bool | None) -> StartMode:
    for mode in queue.start_modes:
        if mode.force is force:
            return mode
    if force is None:  # REFRESH exists for face detection only; elsewhere "no force" means MISSING
        return start_mode(queue, False)
    raise JobCommandError(f"{queue.title} has no “{'all' if force else 'missing'}” mode; use "
                          + " or ".join(mode.label for mode in queue.start_modes) + ".")


def start_queue(queue_name: str, force: bool | None, *, user=None, nightly: bool = False) -> str:
    """Queue the 'queue all' job of a queue (force: True = ALL, False = MISSING, None = REFRESH; `nightly`
    when the nightly tasks start it, as Immich's job data). Returns a message for the administrator; raises
    QueueBusy when the queue is running."""
    queue = get_queue(queue_name)
    if not queue.can_start:
        raise JobCommandError(f"Invalid job name: {queue_name} cannot be started, its jobs are queued by the server.")
    mode = start_mode(queue, force)
    if reason := disabled_reason(queue):
        raise JobCommandError(f"{queue.title}: {reason}")
    counts = queue_counts()[queue_name]
    if counts.pending:
        raise QueueBusy(f"{queue.title} is already running ({counts.active} active, "
                        f"{counts.pending - counts.active} waiting). Wait for it to finish or empty it first.")
    with transaction.atomic():
        run = QueueRun.objects.create(queue=queue_name, force=mode.force, label=mode.label,
                                      started_by=user if getattr(user, "pk", None) else None, total=1)
        job = enqueue(queue_name, queue.queue_all_job, {"force": mode.force, **({"nightly": True} if nightly else {})},
                      dedupe_key=queue.queue_all_job, run=run)
        if job is None:
            transaction.set_rollback(True)
            raise QueueBusy(f"{queue.title} is already running.")
    log.info("%s started (%s) by %s", queue_name, mode.label, getattr(user, "email", "the server"))
    note = " The queue is paused: its jobs run once it is resumed." if queue_name in paused_queues() else ""
    return f"{queue.title}: {mode.label} started.{note}"


@retry_on_busy
def set_paused(queue_name: str, paused: bool) -> str:
    queue = get_queue(queue_name)
    if paused and not queue.pausable:
        raise JobCommandError(BACKGROUND_TASK_NOT_PAUSABLE)
    QueueState.objects.update_or_create(name=queue_name, defaults={"is_paused": paused})
    if not paused:
        shared.publish()
    return f"{queue.title}: {'paused — running jobs finish, no new ones start' if paused else 'resumed'}."


@retry_on_busy
def empty_queue(queue_name: str) -> str:
    """Drop the jobs not started yet (waiting, delayed, paused); running ones finish."""
    queue = get_queue(queue_name)
    with transaction.atomic():
        waiting = Job.objects.filter(queue=queue_name, status=Job.WAITING)
        QueueRun.objects.filter(pk__in=waiting.exclude(run=None).values("run")).update(cancelled=True)
        count, _ = waiting.delete()
    return f"{queue.title}: removed {count} waiting job{'s' if count != 1 else ''}."


@retry_on_busy
def clear_failed(queue_name: str) -> str:
    queue = get_queue(queue_name)
    count, _ = Job.objects.filter(queue=queue_name, status=Job.FAILED).delete()
    return f"{queue.title}: cleared {count} failed job{'s' if count != 1 else ''}."


def _retry(jobs) -> int:
    count = jobs.filter(status=Job.FAILED).update(
        status=Job.WAITING, run_at=timezone.now(), failures=0, lost=0, error="", finished_at=None)
    if count:
        shared.publish()
    return count


@retry_on_busy
def retry_failed(queue_name: str) -> str:
    queue = get_queue(queue_name)
    count = _retry(Job.objects.filter(queue=queue_name))
    return f"{queue.title}: {count} failed job{'s' if count != 1 else ''} queued again."


@retry_on_busy
def retry_job(job_id: int) -> str:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != Job.FAILED:
        raise JobCommandError("That job is not failed any more (it was retried or cleared).")
    _retry(Job.objects.filter(pk=job_id))
    return f"{get_queue(job.queue).title}: job {job.name} #{job.pk} queued again."


def run_command(queue_name: str, command: str, force: bool | None = None, *, user=None) -> str:
    """Immich's PUT /jobs/:name {command, force} (plus retry-failed), for the API and the dashboard."""
    get_queue(queue_name)
    if command == "start":
        return start_queue(queue_name, force, user=user)
    if command in ("pause", "resume"):
        return set_paused(queue_name, command == "pause")
    if command == "empty":
        return empty_queue(queue_name)
    if command == "clear-failed":
        return clear_failed(queue_name)
    if command == "retry-failed":
        return retry_failed(queue_name)
    raise JobCommandError(f"Unknown command “{command}”: expected one of {', '.join(COMMANDS)}.")
