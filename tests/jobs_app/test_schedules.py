"""Cron schedules: next runs in the server's timezone, rescheduling on save, one run for a missed time,
and one run per due time however many schedulers look (threads here, worker processes below)."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs_app import schedules
from jobs_app.identity import WorkerIdentity
from jobs_app.models import Job, QueueRun, Schedule
from settings_app.services import get_config, save_values

from .conftest import wait_for


def server_time(*args) -> datetime:
    return datetime(*args, tzinfo=schedules.server_timezone())


@pytest.mark.django_db
def test_first_look_schedules_every_cron_from_the_settings():
    now = server_time(2026, 3, 10, 12, 30)
    assert schedules.tick("w:1", now=now) == {name: "rescheduled" for name in schedules.SCHEDULES_BY_NAME}
    rows = {row.name: row for row in Schedule.objects.all()}
    assert rows["libraryScan"].cron == "0 0 * * *" and rows["libraryScan"].next_run_at == server_time(2026, 3, 11)
    assert rows["nightlyTasks"].next_run_at == server_time(2026, 3, 11)  # nightlyTasks.startTime 00:00
    assert rows["backupDatabase"].next_run_at == server_time(2026, 3, 11, 2)
    version = rows["versionCheck"]
    assert version.cron.endswith(" * * * *") and version.next_run_at - now <= timedelta(hours=1)
    assert not Job.objects.exists()  # scheduling is not running


@pytest.mark.django_db
def test_saving_a_cron_or_start_time_reschedules_at_once(admin_user):
    schedules.tick("w:1")
    assert save_values({"backup.database.cronExpression": "30 4 * * 1", "nightlyTasks.startTime": "03:15"},
                       user=admin_user).ok
    get_config()  # this process notices the save (every process does within a second)
    rows = {row.name: row for row in Schedule.objects.all()}
    assert rows["backupDatabase"].cron == "30 4 * * 1"
    assert rows["backupDatabase"].next_run_at == schedules.next_run("30 4 * * 1", timezone.now())
    assert rows["nightlyTasks"].cron == "15 3 * * *"


@pytest.mark.django_db
def test_switching_a_schedule_off_and_on(admin_user):
    schedules.tick("w:1")
    assert save_values({"library.scan.enabled": False}, user=admin_user).ok
    get_config()
    row = Schedule.objects.get(name="libraryScan")
    assert (row.cron, row.next_run_at) == ("", None)
    Schedule.objects.filter(name="libraryScan").update(next_run_at=timezone.now() - timedelta(days=1))
    schedules.tick("w:1")
    assert not Job.objects.filter(queue="library").exists()
    assert save_values({"library.scan.enabled": True}, user=admin_user).ok
    get_config()
    assert Schedule.objects.get(name="libraryScan").next_run_at > timezone.now()


@pytest.mark.django_db
def test_missed_runs_during_downtime_run_once():
    schedules.tick("w:1")
    Schedule.objects.filter(name="backupDatabase").update(next_run_at=timezone.now() - timedelta(days=5))
    assert schedules.tick("w:1")["backupDatabase"] == "ran"
    assert schedules.tick("w:1") == {}
    assert Job.objects.filter(name="DatabaseBackup").count() == 1
    row = Schedule.objects.get(name="backupDatabase")
    assert row.runs == 1 and row.next_run_at > timezone.now() and row.last_run_by == "w:1"
    assert QueueRun.objects.get(queue="backupDatabase").label == "Start"


@pytest.mark.django_db
def test_nightly_tasks_queue_the_cleanup_and_missing_work(admin_user):
    schedules.tick("w:1")
    Schedule.objects.filter(name="nightlyTasks").update(next_run_at=timezone.now() - timedelta(minutes=1))
    schedules.tick("w:1")
    queued = set(Job.objects.values_list("queue", "name"))
    assert queued == {("backgroundTask", "AssetDeleteCheck"), ("backgroundTask", "UserDeleteCheck"),
                      ("backgroundTask", "MemoryCleanup"), ("backgroundTask", "HlsSessionCleanup"),
                      ("backgroundTask", "JobHistoryCleanup"), ("backgroundTask", "MemoryGenerate"),
                      ("backgroundTask", "UserSyncUsage"), ("thumbnailGeneration", "AssetGenerateThumbnailsQueueAll"),
                      ("facialRecognition", "FacialRecognitionQueueAll")}
    assert Job.objects.get(name="AssetGenerateThumbnailsQueueAll").data == {"force": False}


@pytest.mark.django_db(transaction=True)
def test_schedulers_racing_for_a_due_time_run_it_once():
    schedules.tick("setup")
    for _ in range(3):
        Schedule.objects.filter(name="versionCheck").update(next_run_at=timezone.now() - timedelta(hours=2))
        barrier, outcomes = threading.Barrier(4), []

        def scheduler(name, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                outcomes.append(schedules.tick(name).get("versionCheck"))
            finally:
                connection.close()

        threads = [threading.Thread(target=scheduler, args=(f"w:{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("ran") == 1
        Job.objects.filter(name="VersionCheck").update(status=Job.COMPLETED)
    assert Job.objects.filter(name="VersionCheck").count() == 3
    assert Schedule.objects.get(name="versionCheck").runs == 3


# --- With real worker processes ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_reschedules_when_the_cron_is_saved(admin_user, start_worker):
    start_worker()
    wait_for(lambda: Schedule.objects.filter(name="backupDatabase", cron="0 02 * * *").exists(),
             message="the worker's scheduler to schedule the backup")
    saved_at = time.monotonic()
    assert save_values({"backup.database.cronExpression": "*/5 * * * *"}, user=admin_user).ok
    # Wait on the database row only: this test process does not read the settings meanwhile, so the
    # change can only come from the worker's scheduler.
    row = wait_for(lambda: Schedule.objects.filter(name="backupDatabase", cron="*/5 * * * *").first(),
                   timeout=5, message="the worker to reschedule")
    # One scheduler tick (1 s) plus slack for a loaded CI machine: "within seconds", not at the next run.
    assert time.monotonic() - saved_at < 3.0
    assert row.next_run_at == schedules.next_run("*/5 * * * *", timezone.now())


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_run_a_schedule_once_per_due_time(start_worker):
    workers = [start_worker(), start_worker()]
    wait_for(lambda: Schedule.objects.filter(name="versionCheck").exclude(cron="").exists(),
             message="the schedules to exist")
    for expected_runs in (1, 2, 3):
        Schedule.objects.filter(name="versionCheck").update(next_run_at=timezone.now() - timedelta(days=2))
        wait_for(lambda expected=expected_runs: Schedule.objects.get(name="versionCheck").runs == expected,
                 timeout=10, message=f"run {expected_runs}")
        time.sleep(0.6)  # three scheduler ticks of both workers: none may run it again
        assert Schedule.objects.get(name="versionCheck").runs == expected_runs
        wait_for(lambda: not Job.objects.filter(name="VersionCheck", status__in=Job.PENDING).exists(),
                 message="the version check to finish")
    assert Job.objects.filter(name="VersionCheck").count() == 3
    last_runner = Schedule.objects.get(name="versionCheck").last_run_by
    assert WorkerIdentity.parse(last_runner).pid in {worker.pid for worker in workers}
