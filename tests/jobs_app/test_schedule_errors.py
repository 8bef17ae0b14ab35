"""A schedule that cannot run (a cron stored before validation refused it, a bad start time) is recorded
with its error, logged once, shown on the jobs page, and never stops the other schedules."""

import logging
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs_app import schedules
from jobs_app.models import Job, Schedule
from settings_app.services import get_config, save_values
from tests.settings_app.test_impossible_values import store_bypassing_validation

from .conftest import wait_for, worker_output

NEVER = "Never runs: no date in the next 5 years matches “0 0 31 2 *”."
URL = "/admin/jobs/"


def make_due(name: str) -> None:
    Schedule.objects.filter(name=name).update(next_run_at=timezone.now() - timedelta(minutes=1))


def failures_logged(caplog, title: str) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.ERROR and record.getMessage().startswith(f"{title} cannot run")]


@pytest.mark.django_db
def test_one_impossible_cron_does_not_stop_the_other_schedules(caplog):
    schedules.tick("w:1")
    store_bypassing_validation("backup.database.cronExpression", "0 0 31 2 *")
    make_due("libraryScan")
    make_due("backupDatabase")

    outcomes = schedules.tick("w:1")

    assert outcomes == {"backupDatabase": "failed", "libraryScan": "ran"}
    assert Job.objects.filter(queue="library").exists()
    assert not Job.objects.filter(queue="backupDatabase").exists()  # its old cron does not run either
    backup = Schedule.objects.get(name="backupDatabase")
    assert backup.error == NEVER and backup.cron == "0 02 * * *" and backup.runs == 0
    assert Schedule.objects.get(name="libraryScan").error == ""
    assert failures_logged(caplog, "Database backup") == [f"Database backup cannot run: {NEVER}"]


@pytest.mark.django_db
def test_a_failure_is_logged_once_per_distinct_error_and_cleared_when_fixed(caplog, admin_user):
    store_bypassing_validation("backup.database.cronExpression", "0 0 31 2 *")
    for _ in range(5):
        assert schedules.tick("w:1")["backupDatabase"] == "failed"
    assert len(failures_logged(caplog, "Database backup")) == 1

    store_bypassing_validation("backup.database.cronExpression", "0 0 1-0 * *")
    schedules.tick("w:1")
    schedules.tick("w:1")
    logged = failures_logged(caplog, "Database backup")
    assert len(logged) == 2 and "the day-of-month range “1-0” runs backwards" in logged[1]

    assert save_values({"backup.database.cronExpression": "0 4 * * *"}, user=admin_user).ok
    get_config()  # the save reschedules at once (the config_update listener)
    row = Schedule.objects.get(name="backupDatabase")
    assert (row.cron, row.error) == ("0 4 * * *", "")
    assert row.next_run_at == schedules.next_run("0 4 * * *", timezone.now())
    assert schedules.tick("w:1") == {}


@pytest.mark.django_db
def test_a_bad_nightly_start_time_is_named_in_the_error(caplog):
    store_bypassing_validation("nightlyTasks.startTime", "٠٢:٣٠")
    make_due("versionCheck")
    outcomes = schedules.tick("w:1")
    assert outcomes["nightlyTasks"] == "failed" and outcomes["versionCheck"] == "rescheduled"
    assert Schedule.objects.get(name="nightlyTasks").error == (
        "“٠٢:٣٠” is not a time of day in 24-hour HH:MM form (00:00 to 23:59).")


@pytest.mark.django_db
def test_the_jobs_page_shows_each_failing_schedule_with_its_error(admin_client):
    store_bypassing_validation("backup.database.cronExpression", "0 0 30 2 *")
    store_bypassing_validation("nightlyTasks.startTime", "25:61")
    # Before any scheduler looked (no rows yet) and after (errors recorded), the page renders the same.
    for _ in range(2):
        response = admin_client.get(URL)
        assert response.status_code == 200
        html = response.content.decode()
        backup = re.search(r'<tr id="schedule-backupDatabase">.*?</tr>', html, re.S).group(0)
        assert "<code>0 0 30 2 *</code>" in backup
        assert "Cannot run: Never runs: no date in the next 5 years matches “0 0 30 2 *”." in backup
        assert "data-next-run>—<" in backup
        nightly = re.search(r'<tr id="schedule-nightlyTasks">.*?</tr>', html, re.S).group(0)
        assert "Cannot run: “25:61” is not a time of day" in nightly
        library = re.search(r'<tr id="schedule-libraryScan">.*?</tr>', html, re.S).group(0)
        assert "Cannot run" not in library and re.search(r"data-next-run>\d{4}-\d\d-\d\d 00:00<", library)
        schedules.tick("w:1")


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_keeps_running_the_good_schedules(start_worker):
    store_bypassing_validation("backup.database.cronExpression", "0 0 31 2 *")
    worker = start_worker()
    wait_for(lambda: Schedule.objects.filter(name="backupDatabase", error=NEVER).exists(),
             message="the worker to record the backup schedule's error")
    wait_for(lambda: Schedule.objects.filter(name="versionCheck").exclude(cron="").exists(),
             message="the version check to be scheduled")
    make_due("versionCheck")
    wait_for(lambda: Schedule.objects.get(name="versionCheck").runs == 1, timeout=10,
             message="the version check to run beside the failing backup schedule")
    time.sleep(1)  # five more scheduler ticks of the worker: the error is not logged again
    assert worker_output(worker).count("Database backup cannot run") == 1
    assert worker.poll() is None
