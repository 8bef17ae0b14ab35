"""Real `manage.py runjobs` processes against this test's database: concurrency limits, live changes,
pause/resume, crashes and graceful stops. The probe jobs log when they start and end, so the number of
jobs running at once is measured across every process, not assumed."""

import os
import signal
import time

import pytest

from jobs_app import services
from jobs_app.identity import WorkerIdentity
from jobs_app.models import Job
from settings_app.services import save_values

from .conftest import all_finished, enqueue_probes, wait_for, worker_output

pytestmark = pytest.mark.django_db(transaction=True)
QUEUE = "thumbnailGeneration"


def set_concurrency(value: int, user) -> None:
    result = save_values({f"job.{QUEUE}.concurrency": value}, user=user)
    assert result.ok, result.messages()


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_running_jobs_never_exceed_the_saved_concurrency_and_reach_it(limit, admin_user, start_worker, probe_log):
    set_concurrency(limit, admin_user)
    enqueue_probes(probe_log, 3 * limit + 2, seconds=0.4)
    worker = start_worker()

    wait_for(all_finished, timeout=30, message="every probe job to finish")
    assert probe_log.max_running() == limit, worker_output(worker)
    assert len(probe_log.ends()) == 3 * limit + 2
    assert Job.objects.filter(queue=QUEUE, status=Job.COMPLETED).count() == 3 * limit + 2


def test_raising_concurrency_while_jobs_wait_applies_within_two_seconds(admin_user, start_worker, probe_log):
    set_concurrency(1, admin_user)
    enqueue_probes(probe_log, 30, seconds=0.3)
    start_worker()
    wait_for(lambda: len(probe_log.ends()) >= 2, message="two jobs done at concurrency 1")

    saved_at = time.time()
    set_concurrency(3, admin_user)
    wait_for(all_finished, timeout=30, message="every probe job to finish")

    assert probe_log.max_running(until=saved_at) == 1
    reached_three = probe_log.first_time_running(3, since=saved_at)
    assert reached_three is not None, "three jobs never ran at once after the change"
    assert reached_three - saved_at < 2.0
    assert probe_log.max_running() == 3


def test_lowering_concurrency_lets_running_jobs_finish(admin_user, start_worker, probe_log):
    set_concurrency(3, admin_user)
    enqueue_probes(probe_log, 10, seconds=0.6)
    start_worker()
    wait_for(lambda: len(probe_log.starts()) >= 3, message="three jobs running")
    running = {job_id for _, job_id, _, _ in probe_log.starts()}

    set_concurrency(1, admin_user)
    lowered_at = time.time()
    wait_for(all_finished, timeout=30, message="every probe job to finish")

    ended = {job_id for _, job_id, _, _ in probe_log.ends()}
    assert running <= ended  # the jobs running at the change were not cut short
    assert all(len(probe_log.starts(job_id)) == 1 for job_id in running)
    # Once the change has reached the worker (2 s at most), a job only starts when no other job of the
    # queue is running, including jobs claimed under the old limit that are still finishing.
    later_starts = probe_log.running_at_each_start(since=lowered_at + 2.0)
    assert later_starts and set(later_starts) == {1}


def test_pause_stops_new_jobs_and_resume_continues(admin_user, start_worker, probe_log):
    set_concurrency(2, admin_user)
    enqueue_probes(probe_log, 14, seconds=0.3)
    start_worker()
    wait_for(lambda: len(probe_log.ends()) >= 2, message="some jobs done")

    services.set_paused(QUEUE, True)
    paused_at = time.time()
    time.sleep(2.5)
    # Jobs claimed just before the pause may still be starting (a busy machine delays a pool process's start).
    settled_at = paused_at + 1.0
    assert [row for row in probe_log.starts() if row[2] > settled_at] == []
    waiting = Job.objects.filter(queue=QUEUE, status=Job.WAITING).count()
    assert waiting > 0
    assert services.queue_counts()[QUEUE].paused == waiting
    assert not Job.objects.filter(queue=QUEUE, status=Job.ACTIVE).exists()  # running jobs finished

    services.set_paused(QUEUE, False)
    resumed_at = time.time()
    wait_for(all_finished, timeout=30, message="the rest after resume")
    assert min(at for kind, _, at, _ in probe_log.starts() if at > settled_at) - resumed_at < 1.0
    assert len(probe_log.ends()) == 14


def test_a_pool_process_killed_mid_job_loses_nothing_and_the_effect_happens_once(
        admin_user, start_worker, probe_log):
    set_concurrency(1, admin_user)
    (job,) = enqueue_probes(probe_log, 1, seconds=2.0, key="the-effect")
    start_worker()
    wait_for(lambda: "the-effect" in probe_log.effect_keys(), message="the job's effect (half-way)")
    (_, _, _, pool_pid), = probe_log.starts(job.pk)

    os.kill(pool_pid, signal.SIGKILL)  # after the effect, before the job could be marked done
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.COMPLETED, timeout=15, message="the job to rerun")

    job.refresh_from_db()
    assert len(probe_log.starts(job.pk)) == 2  # it ran again …
    assert len(probe_log.ends(job.pk)) == 1
    assert probe_log.effect_keys() == ["the-effect"]  # … and its effect happened once
    assert (job.runs, job.lost) == (2, 1)


def test_a_worker_machine_killed_mid_job_has_its_job_run_by_another(admin_user, start_worker, probe_log):
    set_concurrency(1, admin_user)
    workers = {worker.pid: worker for worker in (start_worker(), start_worker())}
    (job,) = enqueue_probes(probe_log, 1, seconds=2.0, key="the-effect")
    wait_for(lambda: "the-effect" in probe_log.effect_keys(), message="the job's effect (half-way)")
    job.refresh_from_db()
    holder = workers.pop(WorkerIdentity.parse(job.claimed_by).pid)
    (survivor,) = workers.values()

    os.killpg(holder.pid, signal.SIGKILL)  # the whole runjobs of that machine, pool included
    holder.wait()
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.COMPLETED, timeout=20,
             message="the other worker to run the job once the lease ran out")

    job.refresh_from_db()
    starts = probe_log.starts(job.pk)
    assert len(starts) == 2 and starts[0][3] != starts[1][3]
    assert (job.runs, job.lost) == (2, 1)
    assert probe_log.effect_keys() == ["the-effect"]
    assert survivor.poll() is None


def test_ctrl_c_lets_the_running_job_finish_then_exits(admin_user, start_worker, probe_log):
    set_concurrency(1, admin_user)
    (running, waiting) = enqueue_probes(probe_log, 2, seconds=1.0)
    worker = start_worker()
    wait_for(lambda: probe_log.starts(running.pk), message="the first job to start")

    # Ctrl+C under `make run`: the terminal's SIGINT to the process group, then `serve`'s SIGTERM.
    os.killpg(worker.pid, signal.SIGINT)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker_output(worker)
    assert Job.objects.get(pk=running.pk).status == Job.COMPLETED
    waiting.refresh_from_db()
    assert (waiting.status, waiting.lost) == (Job.WAITING, 0)  # never started, so not lost


def test_a_job_longer_than_the_stop_grace_is_handed_back_not_lost(admin_user, start_worker, probe_log):
    set_concurrency(1, admin_user)
    (job,) = enqueue_probes(probe_log, 1, seconds=4.0)
    worker = start_worker("--grace", "0.5")
    wait_for(lambda: probe_log.starts(job.pk), message="the job to start")

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker_output(worker)
    job.refresh_from_db()
    assert (job.status, job.lost, job.claimed_by) == (Job.WAITING, 0, "")


@pytest.mark.sqlite_only
def test_a_long_sqlite_write_lock_delays_jobs_but_loses_or_repeats_none(admin_user, start_worker, probe_log):
    import sqlite3

    from django.db import connection

    set_concurrency(4, admin_user)
    jobs = enqueue_probes(probe_log, 16, seconds=0.2)
    start_worker()
    wait_for(lambda: len(probe_log.ends()) >= 2, message="jobs running")

    blocker = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database for a while
    time.sleep(2.0)
    blocker.commit()
    blocker.close()

    wait_for(all_finished, timeout=30, message="every probe job to finish")
    assert sorted(job_id for _, job_id, _, _ in probe_log.starts()) == sorted(job.pk for job in jobs)
    assert Job.objects.filter(status=Job.COMPLETED, lost=0, failures=0).count() == 16
