"""What the supervisor of `make run` (config.supervisor) tells the jobs page about the job workers of its
machine: how often it restarted them after a crash, or that it gave up restarting them. One JobsMetadata
row per machine, written by the supervisor process, read by every web server."""

import logging
import socket
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from .models import JobsMetadata

log = logging.getLogger(__name__)

KEY_PREFIX = "job-workers-supervisor:"


@dataclass(frozen=True)
class SupervisorNote:
    hostname: str
    restarts: int
    last_restart_at: datetime | None
    last_exit: str  # e.g. "exit code -9 (killed by SIGKILL)"
    gave_up: bool
    crashes: int  # crashes within the window when it gave up
    window_seconds: int


def _key(hostname: str) -> str:
    return (KEY_PREFIX + hostname)[:60]


def _write(hostname: str, value: dict | None) -> None:
    """The supervisor must keep supervising whatever the database does: a failed write is only logged."""
    try:
        if value is None:
            JobsMetadata.objects.filter(key=_key(hostname)).delete()
        else:
            JobsMetadata.objects.update_or_create(key=_key(hostname), defaults={"value": value})
    except DatabaseError as error:
        log.warning("could not record the job workers' state for the jobs page: %s", error)
        close_old_connections()


def _current(hostname: str) -> dict:
    try:
        row = JobsMetadata.objects.filter(key=_key(hostname)).first()
    except DatabaseError:
        close_old_connections()
        row = None
    return dict(row.value) if row else {}


def clear(hostname: str | None = None) -> None:
    """A fresh (or cleanly stopped) supervisor: nothing to report for this machine."""
    _write(hostname or socket.gethostname(), None)


def record_restart(last_exit: str, hostname: str | None = None) -> None:
    hostname = hostname or socket.gethostname()
    value = _current(hostname)
    value.update(hostname=hostname, restarts=int(value.get("restarts", 0)) + 1,
                 last_restart_at=timezone.now().isoformat(), last_exit=last_exit, gave_up=False)
    _write(hostname, value)


def record_gave_up(last_exit: str, crashes: int, window_seconds: float, hostname: str | None = None) -> None:
    hostname = hostname or socket.gethostname()
    value = _current(hostname)
    value.update(hostname=hostname, last_exit=last_exit, gave_up=True, crashes=crashes,
                 window_seconds=int(window_seconds))
    value.setdefault("restarts", 0)
    _write(hostname, value)


def notes() -> list[SupervisorNote]:
    """Every machine whose job workers were restarted, or given up on, since its supervisor started."""
    result = []
    for row in JobsMetadata.objects.filter(key__startswith=KEY_PREFIX).order_by("key"):
        value = row.value
        restarted_at = value.get("last_restart_at")
        result.append(SupervisorNote(
            hostname=value.get("hostname", row.key[len(KEY_PREFIX):]), restarts=int(value.get("restarts", 0)),
            last_restart_at=datetime.fromisoformat(restarted_at) if restarted_at else None,
            last_exit=value.get("last_exit", ""), gave_up=bool(value.get("gave_up")),
            crashes=int(value.get("crashes", 0)), window_seconds=int(value.get("window_seconds", 0)),
        ))
    return result
