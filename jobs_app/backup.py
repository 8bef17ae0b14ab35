"""Database dumps (Immich's DatabaseBackup): a consistent copy of the database in DATA_DIR/backups,
keeping the newest `backup.database.keepLastAmount`. SQLite is copied with its online backup API (safe
while the server writes); PostgreSQL is dumped with pg_dump as gzipped SQL."""

import gzip
import logging
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from settings_app.services import get_config

log = logging.getLogger(__name__)

PREFIX = "photoserver-db-backup-"
SUFFIXES = (".sqlite3", ".sql.gz")


class BackupFailed(Exception):
    pass


def backup_dir() -> Path:
    return Path(settings.DATA_DIR) / "backups"


def list_backups() -> list[Path]:
    """Finished dumps, newest first (names carry the time)."""
    folder = backup_dir()
    if not folder.is_dir():
        return []
    files = [path for path in folder.iterdir() if path.name.startswith(PREFIX) and path.name.endswith(SUFFIXES)]
    return sorted(files, key=lambda path: path.name, reverse=True)


def _target(suffix: str) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%dT%H%M%S")
    folder = backup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path, counter = folder / f"{PREFIX}{stamp}{suffix}", 1
    while path.exists():
        counter += 1
        path = folder / f"{PREFIX}{stamp}-{counter}{suffix}"
    return path


def _backup_sqlite(target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=30)
    try:
        destination = sqlite3.connect(str(partial))
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    os.replace(partial, target)  # only a complete copy ever carries the final name


def _backup_postgresql(target: Path) -> None:
    db = connection.settings_dict
    pg_dump = shutil.which("pg_dump")
    if not pg_dump:
        raise BackupFailed("pg_dump is not installed on this worker machine (apt-get install postgresql-client).")
    command = [pg_dump, "--clean", "--if-exists", "--no-owner", "--dbname", db["NAME"],
               "--host", db["HOST"] or "127.0.0.1", "--port", str(db["PORT"] or 5432)]
    if db["USER"]:
        command += ["--username", db["USER"]]
    env = {**os.environ, **({"PGPASSWORD": db["PASSWORD"]} if db["PASSWORD"] else {})}
    partial = target.with_name(target.name + ".partial")
    with gzip.open(partial, "wb") as out:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        shutil.copyfileobj(process.stdout, out)
        stderr = process.stderr.read().decode(errors="replace")
        if process.wait() != 0:
            partial.unlink(missing_ok=True)
            raise BackupFailed(f"pg_dump failed: {stderr.strip()[:2000]}")
    os.replace(partial, target)


def prune_backups(keep: int) -> list[Path]:
    removed = list_backups()[keep:]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def backup_database() -> Path:
    """Write a dump now and delete the oldest beyond keepLastAmount. Returns the new file."""
    if connection.vendor == "sqlite":
        target = _target(".sqlite3")
        _backup_sqlite(target)
    elif connection.vendor == "postgresql":
        target = _target(".sql.gz")
        _backup_postgresql(target)
    else:
        raise BackupFailed(f"Database backups are not supported for {connection.vendor}.")
    removed = prune_backups(get_config().backup.database.keepLastAmount)
    log.info("database backup written to %s (%d old one(s) removed)", target, len(removed))
    return target
