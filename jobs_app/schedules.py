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

from croniter import croniter
from django.conf import settings
from django.db import transaction
from django.utils import timezone

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
    return croniter(cron, after.astimezone(server_timezone())).get_next(datetime)


def _start(queue_name: str, force: bool | None, nightly: bool = False) -> str:
    try:
        return services.start_queue(queue_name, force, nightly=nightly)
    except services.JobCommandError as refused:
        return f"{queue_name} not started: {refused}"


def _enqueue_once(queue_name: str, name: str) -> str:
    job = services.enqueue(queue_name, name, dedupe_key=name)
    return f"{name} queued" if job else f"{name} already pending"


def nightly_cron(config) -> str:
    hours, minutes = config.nightlyTasks.startTime.split(":")
    return f"{int(minutes)} {int(hours)} * * *"


def fire_nightly(config) -> list[str]:
    """Immich's NightlyJobs: trash purge and user deletion check, missing thumbnails, new faces."""
    nightly, done = config.nightlyTasks, []
    if nightly.databaseCleanup:
        done += [_enqueue_once("backgroundTask", name) for name in ("AssetDeleteCheck", "UserDeleteCheck")]
    if nightly.missingThumbnails:
        done.append(_start("thumbnailGeneration", False))
    if nightly.clusterNewFaces:
        done.append(_start("facialRecognition", False, nightly=True))
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


SCHEDULES: tuple[ScheduleDef, ...] = (
    ScheduleDef("libraryScan", "External library scan", "external-library",
                lambda c: c.library.scan.cronExpression if c.library.scan.enabled else "",
                lambda c: [_start("library", False)], "Rescans every external library."),
    ScheduleDef("nightlyTasks", "Nightly tasks", "nightly-tasks", nightly_cron, fire_nightly,
                "Trash purge, user deletion check, missing thumbnails, new faces, quota usage."),
    ScheduleDef("versionCheck", "Version check", "version-check", version_check_cron,
                lambda c: [_enqueue_once("backgroundTask", "VersionCheck")], "Looks for a new release."),
    ScheduleDef("backupDatabase", "Database backup", "backup",
                lambda c: c.backup.database.cronExpression if c.backup.database.enabled else "",
                lambda c: [_start("backupDatabase", False)], "Dumps the database into the data folder."),
)
SCHEDULES_BY_NAME = {schedule.name: schedule for schedule in SCHEDULES}


@retry_on_busy
def _tick_one(schedule: ScheduleDef, config, now: datetime, worker_id: str, fire: bool) -> str:
    cron = schedule.cron(config)
    row = Schedule.objects.filter(name=schedule.name).first()
    if row and row.cron == cron and (not cron or (row.next_run_at and row.next_run_at > now) or not fire):
        return ""  # nothing to do: no write lock taken
    with transaction.atomic():
        row = locked_row(Schedule, name=schedule.name)
        if row.cron != cron or (cron and row.next_run_at is None):
            row.cron, row.next_run_at = cron, next_run(cron, now) if cron else None
            row.save(update_fields=["cron", "next_run_at"])
            log.info("%s %s", schedule.title, f"scheduled: {cron}, next run {row.next_run_at}" if cron else "off")
            return "rescheduled"
        if not (fire and cron and row.next_run_at <= now):
            return ""  # another worker ran it a moment ago
        queued = schedule.fire(config)
        # From now, not from the missed time: a long downtime means one run, not one per missed time.
        row.last_run_at, row.last_run_by, row.runs = now, worker_id, row.runs + 1
        row.next_run_at = next_run(cron, now)
        row.save(update_fields=["last_run_at", "last_run_by", "runs", "next_run_at"])
    log.info("%s ran (%s); next run %s", schedule.title, "; ".join(queued), row.next_run_at)
    return "ran"


def tick(worker_id: str = "", *, fire: bool = True, now: datetime | None = None) -> dict[str, str]:
    """One look at every schedule: reschedule changed ones, run due ones (when `fire`)."""
    config, now = get_config(), now or timezone.now()
    outcomes = {schedule.name: _tick_one(schedule, config, now, worker_id, fire) for schedule in SCHEDULES}
    return {name: outcome for name, outcome in outcomes.items() if outcome}


def reschedule_on_config_update(old, new) -> None:
    """config_update listener: a saved cron or start time moves the next run at once (any process)."""
    if any(schedule.cron(old) != schedule.cron(new) for schedule in SCHEDULES):
        tick(fire=False)


@dataclass
class ScheduleStatus:
    schedule: ScheduleDef
    cron: str
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_by: str

    @property
    def enabled(self) -> bool:
        return bool(self.cron)


def overview() -> list[ScheduleStatus]:
    config, now = get_config(), timezone.now()
    rows = {row.name: row for row in Schedule.objects.all()}
    statuses = []
    for schedule in SCHEDULES:
        cron, row = schedule.cron(config), rows.get(schedule.name)
        next_at = row.next_run_at if row and row.cron == cron and cron else (next_run(cron, now) if cron else None)
        statuses.append(
            ScheduleStatus(schedule, cron, next_at, row.last_run_at if row else None, row.last_run_by if row else "")
        )
    return statuses
