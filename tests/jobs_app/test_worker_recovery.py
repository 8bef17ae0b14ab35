"""Real `manage.py runjobs` processes when things go wrong around a job: a worker killed and restarted on
the same machine, an outcome the database refuses to write, machine clocks that disagree, and the
per-machine process cap. Jobs must never stay active forever nor run twice at once, and a queue must never
stop at its limit because of jobs nobody runs."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from jobs_app import services
from jobs_app.models import Job, WorkerHeartbeat

from .conftest import ROOT, all_finished, enqueue_probes, wait_for, worker_output
from .test_workers import set_concurrency

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_restarted_after_kill_9_runs_its_predecessors_job_at_once(admin_user, start_worker, probe_log):
    set_concurrency(1, admin_user)
    long_lease = {"JOBS_LEASE_SECONDS": "60"}  # waiting for the lease would take a minute
    first = start_worker(env=long_lease)
    (job,) = enqueue_probes(probe_log, 1, seconds=2.0, key="the-effect")
    wait_for(lambda: "the-effect" in probe_log.effect_keys(), message="the job's effect (half-way)")

    os.killpg(first.pid, signal.SIGKILL)  # the whole runjobs, pool included, as a crash or OOM kill would
    first.wait()
    killed_at = time.time()
    start_worker(env=long_lease)
    up_at = time.time()
    wait_for(lambda: len(probe_log.starts(job.pk)) == 2, timeout=15, message="the job to run again")
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.COMPLETED, message="the job to finish")

    rerun_at = probe_log.starts(job.pk)[1][2]
    # At once: not after the 60 s lease (the new process itself may take a few seconds to boot).
    assert rerun_at - up_at < 2.0 and rerun_at - killed_at < 30
    job.refresh_from_db()
    assert (job.runs, job.lost) == (2, 1)  # counted as lost once
    assert probe_log.effect_keys() == ["the-effect"]
    assert not WorkerHeartbeat.objects.filter(pid=first.pid).exists()  # the dead worker's row is gone


# --- An outcome the database will not take -----------------------------------------------------------------


@pytest.fixture
def refuse_completion():
    """A real database fault: a trigger that makes marking the job completed fail (as a full disk would),
    for its first run only or for every run. Returns a function that removes it."""
    vendor = connection.vendor

    def install(job_id: int, first_run_only: bool):
        condition = f"NEW.status = 'completed' AND NEW.id = {int(job_id)}" + (" AND OLD.runs = 1" if first_run_only
                                                                            else "")
        with connection.cursor() as cursor:
            if vendor == "sqlite":
                cursor.execute(f"CREATE TRIGGER refuse_outcome BEFORE UPDATE OF status ON jobs_app_job WHEN {condition}"
                               " BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END")
            else:
                cursor.execute("CREATE FUNCTION refuse_outcome() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                               "'could not extend file: No space left on device (simulated)'; END $$ LANGUAGE plpgsql")
                cursor.execute(f"CREATE TRIGGER refuse_outcome BEFORE UPDATE ON jobs_app_job FOR EACH ROW WHEN "
                               f"({condition}) EXECUTE FUNCTION refuse_outcome()")

    def remove():
        with connection.cursor() as cursor:
            if vendor == "sqlite":
                cursor.execute("DROP TRIGGER IF EXISTS refuse_outcome")
            else:
                cursor.execute("DROP TRIGGER IF EXISTS refuse_outcome ON jobs_app_job")
                cursor.execute("DROP FUNCTION IF EXISTS refuse_outcome()")

    install.remove = remove
    yield install
    remove()


def test_an_outcome_that_cannot_be_written_lets_the_lease_lapse_and_the_job_runs_again(
        admin_user, start_worker, probe_log, refuse_completion):
    set_concurrency(1, admin_user)
    job, behind = enqueue_probes(probe_log, 2, seconds=0.4)
    refuse_completion(job.pk, first_run_only=True)
    worker = start_worker()

    wait_for(lambda: all_finished(), timeout=30, message="both jobs to finish (the queue not stuck)")
    job.refresh_from_db(), behind.refresh_from_db()
    assert (job.status, job.runs, job.lost) == (Job.COMPLETED, 2, 1), worker_output(worker)
    assert (behind.status, behind.runs) == (Job.COMPLETED, 1)
    first_end, second_start = probe_log.ends(job.pk)[0][2], probe_log.starts(job.pk)[1][2]
    assert second_start - first_end >= 3.0  # the write was tried again (0.5 + 1 + 2 s) before letting go
    output = worker_output(worker)
    assert "writing its outcome failed" in output and "(simulated)" in output
    assert "its outcome could not be written" in output
    assert worker.poll() is None


def test_an_outcome_write_that_fails_for_a_moment_is_retried_and_recorded(
        admin_user, start_worker, probe_log, refuse_completion):
    set_concurrency(1, admin_user)
    (job,) = enqueue_probes(probe_log, 1, seconds=0.2)
    refuse_completion(job.pk, first_run_only=False)
    worker = start_worker()
    wait_for(lambda: "writing its outcome failed" in worker_output(worker), message="a refused outcome write")
    refuse_completion.remove()  # the disk has room again

    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.COMPLETED, message="the outcome to be recorded")
    job.refresh_from_db()
    assert (job.runs, job.lost) == (1, 0) and len(probe_log.starts(job.pk)) == 1


# --- Clocks -------------------------------------------------------------------------------------------------

SKEWED_CLOCK = """\
# Test only: this interpreter's clock runs TEST_CLOCK_SKEW_SECONDS off (time.time and Django's timezone.now),
# as a machine whose clock is wrong; the database's clock is untouched.
import os
import time
from datetime import timedelta

_skew = float(os.environ["TEST_CLOCK_SKEW_SECONDS"])
_time = time.time
time.time = lambda: _time() + _skew

from django.utils import timezone  # noqa: E402

_now = timezone.now
timezone.now = lambda: _now() + timedelta(seconds=_skew)
with open(os.environ["TEST_CLOCK_REPORT"], "a") as report:
    report.write(f"{os.getpid()} {time.time() - _time():.1f}\\n")
"""


@pytest.fixture
def skewed_clock_env(tmp_path):
    folder = tmp_path / "skewed-clock"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SKEWED_CLOCK)
    report = tmp_path / "clock-report.txt"

    def env(seconds: float) -> dict:
        path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH", "")]))
        return {"PYTHONPATH": path, "TEST_CLOCK_SKEW_SECONDS": str(seconds), "TEST_CLOCK_REPORT": str(report)}

    env.report = report
    return env


@pytest.mark.parametrize("holder_skew, other_skew", [(0, 30), (-30, 0)], ids=["other-ahead", "holder-behind"])
def test_a_machine_whose_clock_is_30_seconds_off_takes_over_no_live_job(
        holder_skew, other_skew, admin_user, start_worker, probe_log, skewed_clock_env):
    set_concurrency(1, admin_user)
    holder = start_worker(env=skewed_clock_env(holder_skew) if holder_skew else None)
    release = probe_log.path.with_name("release")
    (job,) = enqueue_probes(probe_log, 1, seconds=0.2, release=str(release))
    wait_for(lambda: probe_log.starts(job.pk), message="the job to start")
    other = start_worker(env=skewed_clock_env(other_skew) if other_skew else None)
    skewed = holder if holder_skew else other

    # The skew is real: the skewed process's clock says so.
    (line,) = skewed_clock_env.report.read_text().splitlines()
    assert line == f"{skewed.pid} {float(holder_skew or other_skew):.1f}"
    time.sleep(1.5)  # several heartbeats and lease checks of both machines while the job runs
    assert not probe_log.ends(job.pk), "the job should still be running"
    assert {worker.pid for worker in services.live_workers()} == {holder.pid, other.pid}
    assert services.stuck_job_count() == 0

    release.touch()
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.COMPLETED, message="the job to finish")
    job.refresh_from_db()
    assert (job.runs, job.lost) == (1, 0), worker_output(holder) + worker_output(other)
    assert len(probe_log.starts(job.pk)) == 1


# --- This machine's process cap ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["option", "environment"])
def test_max_processes_bounds_the_jobs_of_this_machine_below_the_queues_concurrency(
        how, admin_user, start_worker, probe_log):
    set_concurrency(4, admin_user)
    enqueue_probes(probe_log, 8, seconds=0.5)
    if how == "option":
        worker = start_worker("--max-processes", "2")
    else:
        worker = start_worker(env={"JOBS_MAX_PROCESSES": "2"})
    pool_sizes = set()

    def finished():
        pool_sizes.update(WorkerHeartbeat.objects.values_list("pool_size", flat=True))
        return all_finished()

    wait_for(finished, timeout=30, message="every probe job to finish")
    assert probe_log.max_running() == 2, worker_output(worker)
    assert len(probe_log.ends()) == 8 and max(pool_sizes) <= 2


def test_a_second_machine_takes_what_the_capped_one_cannot(admin_user, start_worker, probe_log):
    set_concurrency(4, admin_user)
    capped = start_worker("--max-processes", "1")
    other = start_worker("--max-processes", "3")
    enqueue_probes(probe_log, 12, seconds=0.6)

    wait_for(all_finished, timeout=30, message="every probe job to finish")
    assert probe_log.max_running() == 4  # the queue's limit holds across both machines, and is reached

    def most_at_once(worker) -> int:
        jobs = set(Job.objects.filter(claimed_by__contains=f":{worker.pid}:").values_list("pk", flat=True))
        events = sorted((at, 1 if kind == "start" else -1) for kind, job_id, at, _ in probe_log.lines()
                        if job_id in jobs)
        running = peak = 0
        for _, change in events:
            running += change
            peak = max(peak, running)
        return peak

    assert most_at_once(capped) == 1, worker_output(capped)
    assert most_at_once(other) == 3, worker_output(other)


def test_max_processes_below_one_is_refused_with_a_clear_message(child_env):
    result = subprocess.run([sys.executable, "manage.py", "runjobs", "--max-processes", "0"], cwd=ROOT,
                            env=child_env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--max-processes (or JOBS_MAX_PROCESSES) must be at least 1, got 0." in result.stderr
