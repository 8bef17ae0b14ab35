"""What the supervisor of `make run` (config.supervisor) tells the jobs page about the processes it keeps
running on its machine (job workers, machine-learning service): how often it restarted one after a crash,
or that it gave up restarting it. One JobsMetadata row per machine and process, written by the supervisor,
read by every web server."""

import logging
import socket
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from .models import JobsMetadata

log = logging.getLogger(__name__)

KEY_PREFIX = "supervisor:"


@dataclass(frozen=True)
class SupervisorNote:
    process: str  # "job workers", "machine-learning service"
    hostname: str
    restarts: int
    last_restart_at: datetime | None
    last_exit: str  # e.g. "exit code -9 (killed by SIGKILL)"
    gave_up: bool
    crashes: int  # crashes within the window when it gave up
    window_seconds: int


def _key(process: str, hostname: str) -> str:
    return f"{KEY_PREFIX}{process}:{hostname}"[:60]


def _write(process: str, hostname: str, value: dict) -> None:
    """The supervisor must keep supervising whatever the database does: a failed write is only logged."""
    try:
        JobsMetadata.objects.update_or_create(key=_key(process, hostname), defaults={"value": value})
    except DatabaseError as error:
        log.warning("could not record the %s' state for the jobs page: %s", process, error)
        close_old_connections()


def _current(process: str, hostname: str) -> dict:
    try:
        row = JobsMetadata.objects.filter(key=_key(process, hostname)).first()
    except DatabaseError:
        close_old_connections()
        row = None
    return dict(row.value) if row else {}


def clear(hostname: str | None = None) -> None:
    """A fresh (or cleanly stopped) supervisor: nothing to report for this machine."""
    hostname = hostname or socket.gethostname()
    try:
        JobsMetadata.objects.filter(key__startswith=KEY_PREFIX, value__hostname=hostname).delete()
    except DatabaseError as error:
        log.warning("could not clear the supervisor's notes for the jobs page: %s", error)
        close_old_connections()


def record_restart(process: str, last_exit: str, hostname: str | None = None) -> None:
    hostname = hostname or socket.gethostname()
    value = _current(process, hostname)
    value.update(process=process, hostname=hostname, restarts=int(value.get("restarts", 0)) + 1,
                 last_restart_at=timezone.now().isoformat(), last_exit=last_exit, gave_up=False)
    _write(process, hostname, value)


def record_gave_up(process: str, last_exit: str, crashes: int, window_seconds: float,
                   hostname: str | None = None) -> None:
    hostname = hostname or socket.gethostname()
    value = _current(process, hostname)
    value.update(process=process, hostname=hostname, last_exit=last_exit, gave_up=True, crashes=crashes,
                 window_seconds=int(window_seconds))
    value.setdefault("restarts", 0)
    _write(process, hostname, value)


def notes() -> list[SupervisorNote]:
    """Every supervised process restarted, or given up on, since its machine's supervisor started."""
    result = []
    for row in JobsMetadata.objects.filter(key__startswith=KEY_PREFIX).order_by("key"):
        value = row.value
        restarted_at = value.get("last_restart_at")
        result.append(SupervisorNote(
            process=value.get("process", ""), hostname=value.get("hostname", ""),
            restarts=int(value.get("restarts", 0)),
            last_restart_at=datetime.fromisoformat(restarted_at) if restarted_at else None,
            last_exit=value.get("last_exit", ""), gave_up=bool(value.get("gave_up")),
            crashes=int(value.get("crashes", 0)), window_seconds=int(value.get("window_seconds", 0)),
        ))
    return result
