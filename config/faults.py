"""Faults of the machine rather than of the request (database busy past the busy timeout, disk full,
body too large, text that is not Unicode), recognised once and answered in the client's language: JSON
under /api/ (api_app.errors), a readable message on pages (config.middleware)."""

import errno
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError

# How long a client should wait before retrying when the database stayed locked past the busy timeout.
DATABASE_BUSY_RETRY_SECONDS = 5

# PostgreSQL SQLSTATEs: disk_full, lock_not_available, serialization/deadlock are retried by clients.
_PG_DISK_FULL = {"53100"}
_PG_BUSY = {"55P03", "40001", "40P01"}


@dataclass(frozen=True)
class Fault:
    status: int
    error: str  # the HTTP reason phrase, Immich's `error`
    message: str
    retry_after: int | None = None


DATABASE_BUSY = Fault(
    503, "Service Unavailable",
    f"The database is busy; try again in a few seconds (retry after {DATABASE_BUSY_RETRY_SECONDS} s). "
    "Nothing was saved.",
    retry_after=DATABASE_BUSY_RETRY_SECONDS,
)
DISK_FULL = Fault(
    507, "Insufficient Storage",
    "The disk is full: nothing was saved. Free some space on the server's data disk, then try again.",
)
BODY_TOO_LARGE = Fault(413, "Payload Too Large", "The request body is too large.")
NOT_UNICODE = Fault(400, "Bad Request", "The request contains text that is not valid Unicode (such as a lone "
                                        "surrogate like \\ud800).")


def _sqlstate(error: Exception) -> str:
    return getattr(error.__cause__, "sqlstate", None) or getattr(error.__cause__, "pgcode", None) or ""


def fault_of(error: BaseException) -> Fault | None:
    """The Fault this exception stands for, or None for an ordinary bug."""
    if isinstance(error, OperationalError):
        text, state = str(error).lower(), _sqlstate(error)
        if "database is locked" in text or "database table is locked" in text or state in _PG_BUSY:
            return DATABASE_BUSY
        if "disk is full" in text or "no space left" in text or state in _PG_DISK_FULL:
            return DISK_FULL
        return None
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    if isinstance(error, RequestDataTooBig):
        return BODY_TOO_LARGE
    if isinstance(error, UnicodeError):
        return NOT_UNICODE
    return None
