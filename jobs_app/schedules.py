"""Cron schedules, single-instance across worker machines (Immich's CronRepository + DatabaseLock).

Each schedule has a row holding its next run. Every worker's scheduler looks at the rows once a second;
the one that finds a schedule due takes the row's lock (SELECT … FOR UPDATE on PostgreSQL, SQLite's one
write lock), queues the jobs and moves next_run_at in the same transaction, so the others find it not
due any more: one run per due time, however many machines. A server that was down finds the missed
time in the past and runs once, then continues from now. A changed cron (or start time) is noticed on
the next look and the row is rescheduled from the new expression at once."""

import hashlib
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from settings_app.kinds import next_cron_runs, validate_cron, validate_time
from settings_app.services import get_config

from . import services
from .db import locked_row, retry_on_busy
from .models import Schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleDef:
    name: str
    title: str
    settings_slug: str  # where the administrator changes it (?isOpen=)
    cron: Callable  # config -> cron expression, "" when the schedule is switched off
    fire: Callable  # config -> [what was queued]
    describe: str = ""


def server_timezone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def next_run(cron: str, after: datetime) -> datetime:
    """Raises ValidationError (with the message the settings page shows) for a cron that is not valid
    or never runs: such a value can still come from the database, written before validation refused it."""
    return next_cron_runs(cron, 1, after)[0]


def _start(queue_name: str, force: bool | None, nightly: bool = False) -> str:
    try:
        return services.start_queue(queue_name, force, nightly=nightly)
    except services.JobCommandError as refused:
        return f"{queue_name} not started: {refused}"


def _enqueue_once(queue_name: str, name: str) -> str:
    job = services.enqueue(queue_name, name, dedupe_key=name)
    return f"{name} queued" if job else f"{name} already pending"


def nightly_cron(config) -> str:
    validate_time(config.nightlyTasks.startTime)
    hours, minutes = config.nightlyTasks.startTime.split(":")
    return f"{int(minutes)} {int(hours)} * * *"


def fire_nightly(config) -> list[str]:
    """Immich's NightlyJobs: trash purge, user deletion check, memory, idle real-time HLS session and old
    completed job cleanup, missing thumbnails, new faces, memories, quota usage."""
    nightly, done = config.nightlyTasks, []
    if nightly.databaseCleanup:
        done += [_enqueue_once("backgroundTask", name) for name in (
            "AssetDeleteCheck", "UserDeleteCheck", "MemoryCleanup", "HlsSessionCleanup", "JobHistoryCleanup")]
    if nightly.missingThumbnails:
        done.append(_start("thumbnailGeneration", False))
    if nightly.clusterNewFaces:
        done.append(_start("facialRecognition", False, nightly=True))
    if nightly.generateMemories:
        done.append(_enqueue_once("backgroundTask", "MemoryGenerate"))
    if nightly.syncQuotaUsage:
        done.append(_enqueue_once("backgroundTask", "UserSyncUsage"))
    return done


def version_check_cron(config) -> str:
    """Hourly, at a minute fixed per installation (Immich picks a random one) so that servers do not all
    ask at the same moment."""
    if not config.newVersionCheck.enabled:
        return ""
    minute = int(hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest(), 16) % 60
    return f"{minute} * * * *"


def _integrity_check(name: str, job: str, title: str, describe: str) -> ScheduleDef:
    def cron(config) -> str:
        check = getattr(config.integrityChecks, name)
        return check.cronExpression if check.enabled else ""

    return ScheduleDef(f"integrity{name[0].upper()}{name[1:]}", title, "integrity-checks", cron,
                       lambda c: [_enqueue_once("integrityCheck", job)], describe)


SCHEDULES: tuple[ScheduleDef, ...] = (
    ScheduleDef("libraryScan", "External library scan", "external-library",
                lambda c: c.library.scan.cronExpression if c.library.scan.enabled else "",
                lambda c: [_start("library", False)], "Rescans every external library."),
    ScheduleDef("nightlyTasks", "Nightly tasks", "nightly-tasks", nightly_cron, fire_nightly,
                "Trash purge, user deletion check, missing thumbnails, new faces, memories, quota usage."),
    ScheduleDef("versionCheck", "Version check", "version-check", version_check_cron,
                lambda c: [_enqueue_once("backgroundTask", "VersionCheck")], "Looks for a new release."),
    ScheduleDef("backupDatabase", "Database backup", "backup",
                lambda c: c.backup.database.cronExpression if c.backup.database.enabled else "",
                lambda c: [_start("backupDatabase", False)], "Dumps the database into the data folder."),
    _integrity_check("missingFiles", "IntegrityMissingFiles", "Integrity: missing files",
                     "Looks for assets whose files are gone."),
    _integrity_check("untrackedFiles", "IntegrityUntrackedFiles", "Integrity: untracked files",
                     "Looks for files in the media folder that no asset refers to."),
    _integrity_check("checksumFiles", "IntegrityChecksumFiles", "Integrity: checksums",
                     "Re-hashes originals, part of the library per run."),
)
SCHEDULES_BY_NAME = {schedule.name: schedule for schedule in SCHEDULES}


@retry_on_busy
def _tick_one(schedule: ScheduleDef, config, now: datetime, worker_id: str, fire: bool) -> str:
    cron = schedule.cron(config)
    row = Schedule.objects.filter(name=schedule.name).first()
    if (row and row.cron == cron and not row.error
            and (not cron or (row.next_run_at and row.next_run_at > now) or not fire)):
        return ""  # nothing to do: no write lock taken
    if cron:
        validate_cron(cron)  # a bad value still in the database fails here, before anything is written
    with transaction.atomic():
        row = locked_row(Schedule, name=schedule.name)
        if row.cron != cron or (cron and row.next_run_at is None):
            row.cron, row.next_run_at, row.error = cron, next_run(cron, now) if cron else None, ""
            row.save(update_fields=["cron", "next_run_at", "error"])
            log.info("%s %s", schedule.title, f"scheduled: {cron}, next run {row.next_run_at}" if cron else "off")
            return "rescheduled"
        due = bool(cron) and row.next_run_at <= now
        if not (fire and due):
            if row.error and not due:  # valid again (set back to the cron scheduled), no failed run to retry
                row.error = ""
                row.save(update_fields=["error"])
            return ""  # or another worker ran it a moment ago
        queued = schedule.fire(config)
        # From now, not from the missed time: a long downtime means one run, not one per missed time.
        row.last_run_at, row.last_run_by, row.runs = now, worker_id, row.runs + 1
        row.next_run_at, row.error = next_run(cron, now), ""
        row.save(update_fields=["last_run_at", "last_run_by", "runs", "next_run_at", "error"])
    log.info("%s ran (%s); next run %s", schedule.title, "; ".join(queued), row.next_run_at)
    return "ran"


def _failure_message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return error.messages[0]
    return f"{type(error).__name__}: {error}"


@retry_on_busy
def _record_failure(schedule: ScheduleDef, error: Exception) -> None:
    """Keep the error on the schedule's row for the jobs page; log it once, not at every tick."""
    message = _failure_message(error)
    if Schedule.objects.filter(name=schedule.name, error=message).exists():
        return  # known: no write lock taken
    with transaction.atomic():
        row = locked_row(Schedule, name=schedule.name)
        if row.error == message:
            return
        row.error = message
        row.save(update_fields=["error"])
    log.error("%s cannot run: %s", schedule.title, message, exc_info=not isinstance(error, ValidationError))


def tick(worker_id: str = "", *, fire: bool = True, now: datetime | None = None) -> dict[str, str]:
    """One look at every schedule: reschedule changed ones, run due ones (when `fire`). Each schedule on
    its own: one that fails (a bad cron, a failing start) is recorded and the others still run."""
    config, now = get_config(), now or timezone.now()
    outcomes = {}
    for schedule in SCHEDULES:
        try:
            outcomes[schedule.name] = _tick_one(schedule, config, now, worker_id, fire)
        except Exception as error:
            outcomes[schedule.name] = "failed"
            try:
                _record_failure(schedule, error)
            except Exception:
                log.exception("%s failed and its error could not be recorded", schedule.title)
    return {name: outcome for name, outcome in outcomes.items() if outcome}


def reschedule_on_config_update(old, new) -> None:
    """config_update listener: a saved cron or start time moves the next run at once (any process). An
    unchanged schedule costs one read and no lock."""
    tick(fire=False)


@dataclass
class ScheduleStatus:
    schedule: ScheduleDef
    cron: str
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_by: str
    error: str = ""  # why it cannot run: a bad value in the settings, or its last start failing

    @property
    def enabled(self) -> bool:
        return bool(self.cron)


def overview() -> list[ScheduleStatus]:
    config, now = get_config(), timezone.now()
    rows = {row.name: row for row in Schedule.objects.all()}
    statuses = []
    for schedule in SCHEDULES:
        row = rows.get(schedule.name) or Schedule(name=schedule.name)
        cron, next_at, error = "", None, ""
        try:
            cron = schedule.cron(config)
            if cron:
                next_at = row.next_run_at if row.cron == cron else next_run(cron, now)
        except Exception as problem:  # a bad value in the database: shown as the scheduler records it
            error = _failure_message(problem)
        if not error and row.cron == cron:  # the scheduler's error about this very schedule
            error = row.error
        statuses.append(ScheduleStatus(schedule, cron, next_at, row.last_run_at, row.last_run_by, error))
    return statuses
