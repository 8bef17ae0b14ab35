"""Database dumps: a real, restorable copy in DATA_DIR/backups, the oldest beyond keepLastAmount removed."""

import gzip
import sqlite3

import pytest
from django.db import connection

from jobs_app import backup, engine, runner, services
from jobs_app.models import Job
from settings_app.services import save_values

# A dump is made through its own connection: it sees committed data only.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def run_backup_job():
    services.start_queue("backupDatabase", False)
    (claim,) = engine.claim_ready(["backupDatabase"], "test:1")
    runner.run_job(claim.job_id, claim.token)
    return Job.objects.get(pk=claim.job_id)


@pytest.mark.sqlite_only
def test_a_sqlite_backup_is_a_complete_database(admin_user, data_dir):
    job = run_backup_job()
    assert job.status == Job.COMPLETED, job.error
    (dump,) = backup.list_backups()
    assert dump.parent == data_dir / "backups" and dump.name.startswith("photoserver-db-backup-")
    copy = sqlite3.connect(dump)
    assert copy.execute("select email from users_app_user").fetchall() == [("admin@example.com",)]
    assert copy.execute("pragma integrity_check").fetchone() == ("ok",)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL dump")
def test_a_postgresql_backup_is_a_gzipped_sql_dump(admin_user):
    job = run_backup_job()
    assert job.status == Job.COMPLETED, job.error
    (dump,) = backup.list_backups()
    assert dump.name.endswith(".sql.gz")
    sql = gzip.decompress(dump.read_bytes()).decode()
    assert "CREATE TABLE public.users_app_user" in sql and "admin@example.com" in sql


def test_only_the_newest_keep_last_amount_dumps_stay(admin_user, data_dir):
    assert save_values({"backup.database.keepLastAmount": 2}, user=admin_user).ok
    folder = data_dir / "backups"
    folder.mkdir()
    for stamp in ("20240101T020000", "20240102T020000", "20240103T020000"):
        (folder / f"photoserver-db-backup-{stamp}.sqlite3").write_text("old")
    (folder / "unrelated.txt").write_text("kept")

    newest = backup.backup_database()
    kept = [path.name for path in backup.list_backups()]
    assert kept == [newest.name, "photoserver-db-backup-20240103T020000.sqlite3"]
    assert (folder / "unrelated.txt").exists()
