"""Job state lives in the database (SQLite or PostgreSQL), whatever the broker: it is what every worker
machine, the dashboard and the API agree on. Claims are gated here (concurrency, pause) and leases here
make a dead worker's job run again."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Job(models.Model):
    WAITING = "waiting"  # ready to run at run_at (a run_at in the future is Immich's "delayed")
    ACTIVE = "active"  # claimed by a worker, lease_until renewed while that worker lives
    COMPLETED = "completed"
    FAILED = "failed"
    STATUSES = [(s, s) for s in (WAITING, ACTIVE, COMPLETED, FAILED)]
    PENDING = (WAITING, ACTIVE)

    queue = models.CharField(max_length=40)
    name = models.CharField(max_length=80, help_text="The handler, as Immich's JobName.")
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=WAITING)
    priority = models.SmallIntegerField(default=0, help_text="Lower runs first.")
    run_at = models.DateTimeField(default=timezone.now)
    # Jobs with the same key are not queued twice while one is pending (Immich's jobId/deduplication).
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    run = models.ForeignKey("QueueRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")

    runs = models.PositiveIntegerField(default=0, help_text="Times a worker claimed it.")
    failures = models.PositiveIntegerField(default=0, help_text="Attempts that raised an error.")
    lost = models.PositiveIntegerField(default=0, help_text="Times its worker died while holding it.")
    claimed_by = models.CharField(max_length=120, blank=True, default="")
    claim_token = models.CharField(max_length=40, blank=True, default="")
    executor_pid = models.IntegerField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    progress = models.PositiveSmallIntegerField(null=True, blank=True,
                                                help_text="Percent done, reported by a long-running handler.")

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["queue", "status", "priority", "id"], name="job_claim_order"),
            models.Index(fields=["status", "lease_until"], name="job_lease"),
            models.Index(fields=["status", "finished_at"], name="job_finished"),
            models.Index(fields=["run", "status"], name="job_run_progress"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], condition=Q(status__in=["waiting", "active"]),
                                    name="job_pending_dedupe"),
        ]

    def __str__(self):
        return f"{self.queue}/{self.name}#{self.pk} ({self.status})"


class FinishedJobCount(models.Model):
    """How many completed and failed jobs each queue has, so the dashboard and the API never count the
    finished history row by row. Kept exact by database triggers on the job table (migration
    0006_finished_job_counts), in the same transaction as every insert, status change and delete, whoever
    makes it (workers, commands, the retention cleanup)."""

    queue = models.CharField(max_length=40, primary_key=True)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.queue}: {self.completed} completed, {self.failed} failed"


class QueueState(models.Model):
    """Per-queue state every machine must see: whether the administrator paused it."""

    name = models.CharField(max_length=40, primary_key=True)
    is_paused = models.BooleanField(default=False)
    # A hold set by the server itself (e.g. no machine-learning server answers): the queue's jobs wait, one
    # is let through every hold_probe_seconds to find out whether the cause is gone; the app releases it.
    hold_reason = models.CharField(max_length=500, blank=True, default="")
    hold_probe_at = models.DateTimeField(null=True, blank=True)
    hold_probe_seconds = models.FloatField(default=30)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} ({'paused' if self.is_paused else 'held' if self.hold_reason else 'running'})"


class QueueRun(models.Model):
    """One "start" of a queue, for the progress bar: how many jobs it queued, how many are still pending."""

    queue = models.CharField(max_length=40, db_index=True)
    force = models.BooleanField(null=True)
    label = models.CharField(max_length=40, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    total = models.PositiveIntegerField(default=0)
    enqueueing = models.BooleanField(default=True, help_text="The queue-all job is still streaming ids.")
    cancelled = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.queue} run {self.pk}"


class WorkerHeartbeat(models.Model):
    """One row per running `runjobs` instance, refreshed every few seconds: the dashboard's "no worker"
    banner and the lease renewal of the jobs this instance holds."""

    worker_id = models.CharField(max_length=120, primary_key=True)
    hostname = models.CharField(max_length=200)
    pid = models.IntegerField()
    queues = models.JSONField(default=list)
    pool_size = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.worker_id


class Schedule(models.Model):
    """A cron schedule's next run, shared by every worker machine: whoever finds it due first (under the
    row lock) queues the job and moves next_run_at, so each run happens once."""

    name = models.CharField(max_length=40, primary_key=True)
    cron = models.CharField(max_length=100, blank=True, default="")
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_by = models.CharField(max_length=120, blank=True, default="")
    runs = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="", help_text="Why it cannot run (bad cron, failing start); "
                             "empty when fine.")

    def __str__(self):
        return self.name


class JobsMetadata(models.Model):
    """Small named state of jobs (Immich's system_metadata): e.g. the version check result."""

    key = models.CharField(max_length=60, primary_key=True)
    value = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.key


class ClusterLock(models.Model):
    """A named lease that one process of the whole cluster holds at a time (jobs_app.locks), e.g. library
    watching: the holder bumps `renewals` every few seconds; the others take over when it stops moving."""

    name = models.CharField(max_length=60, primary_key=True)
    holder = models.CharField(max_length=120, blank=True, default="", help_text="Empty when free.")
    renewals = models.PositiveBigIntegerField(default=0)
    acquired_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.holder or 'free'})"
