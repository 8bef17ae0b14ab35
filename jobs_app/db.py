"""Short transactions that survive a busy database. SQLite has one writer at a time: the settings use
IMMEDIATE transactions and a busy timeout, and what still fails with "database is locked" (or a
PostgreSQL deadlock) is retried here, a few times with a growing pause."""

import functools
import logging
import random
import time
from datetime import UTC, datetime

from django.db import OperationalError, close_old_connections, connection

log = logging.getLogger(__name__)

RETRYABLE = ("database is locked", "database table is locked", "busy", "deadlock detected",
             "could not serialize", "server closed the connection", "connection already closed")
ATTEMPTS = 6


def is_retryable(error: Exception) -> bool:
    return isinstance(error, OperationalError) and any(text in str(error).lower() for text in RETRYABLE)


def retry_on_busy(func):
    """Run func again when the database was busy. Only at the outermost level: inside someone else's
    transaction the error belongs to them."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as error:
                if connection.in_atomic_block or attempt == ATTEMPTS or not is_retryable(error):
                    raise
                log.warning("%s: %s; trying again (%d/%d)", func.__qualname__, error, attempt, ATTEMPTS - 1)
                close_old_connections()
                time.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))

    return wrapper


def database_now() -> datetime:
    """The database's clock: the one clock every worker machine shares (leases are compared with it, never
    with a machine's own clock). With SQLite it is this machine's clock, as every process is on it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'now')")
            return datetime.fromisoformat(cursor.fetchone()[0]).replace(tzinfo=UTC)
        cursor.execute("SELECT STATEMENT_TIMESTAMP()")
        return cursor.fetchone()[0]


def locked_row(model, **lookup):
    """The row matching `lookup`, created if missing, locked until the end of the current transaction."""
    row = model.objects.select_for_update().filter(**lookup).first()
    if row is None:
        model.objects.get_or_create(**lookup)
        row = model.objects.select_for_update().get(**lookup)
    return row
