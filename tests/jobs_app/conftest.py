"""Fixtures for the jobs engine: real `manage.py runjobs` processes on this test's database, and the
probe log they write (see probe_tasks.py)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs_app.models import Job, WorkerHeartbeat

from . import probe_tasks  # noqa: F401  (the test-only handlers, also in this process)

ROOT = Path(__file__).resolve().parents[2]
# Fast timings for the worker processes (production defaults are in jobs_app/conf.py).
FAST_WORKER_ENV = {
    "JOBS_LEASE_SECONDS": "2",
    "JOBS_HEARTBEAT_SECONDS": "0.3",
    "JOBS_POLL_SECONDS": "0.05",
    "JOBS_SCHEDULER_TICK_SECONDS": "0.2",
    "JOBS_STOP_GRACE_SECONDS": "5",
    "JOBS_MAX_PROCESSES": "8",  # the concurrency tests go beyond this machine's CPU count
}


def wait_for(condition, timeout: float = 20, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class ProbeLog:
    """The start/end lines TestProbe jobs write, across every worker process."""

    def __init__(self, path: Path):
        self.path = path
        self.effects = path.with_name("effects.txt")

    def lines(self) -> list[tuple[str, int, float, int]]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            kind, job_id, at, pid = line.split()
            rows.append((kind, int(job_id), float(at), int(pid)))
        return rows

    def starts(self, job_id: int | None = None) -> list:
        return [row for row in self.lines() if row[0] == "start" and job_id in (None, row[1])]

    def ends(self, job_id: int | None = None) -> list:
        return [row for row in self.lines() if row[0] == "end" and job_id in (None, row[1])]

    def overlap_timeline(self) -> list[tuple[float, int]]:
        """(time, jobs running just after it) at every start and end, in order."""
        events = sorted((at, 1 if kind == "start" else -1) for kind, _, at, _ in self.lines())
        running, timeline = 0, []
        for at, delta in events:  # at equal times an end sorts before a start
            running += delta
            timeline.append((at, running))
        return timeline

    def max_running(self, since: float = 0.0, until: float = float("inf")) -> int:
        return max((running for at, running in self.overlap_timeline() if since <= at <= until), default=0)

    def running_at_each_start(self, since: float = 0.0) -> list[int]:
        """How many jobs were running just after each start at or after `since`."""
        starts = {at for kind, _, at, _ in self.lines() if kind == "start"}
        return [running for at, running in self.overlap_timeline() if at >= since and at in starts]

    def first_time_running(self, count: int, since: float = 0.0) -> float | None:
        return next((at for at, running in self.overlap_timeline() if at >= since and running >= count), None)

    def effect_keys(self) -> list[str]:
        return self.effects.read_text().split() if self.effects.exists() else []

    def job_data(self, seconds: float, **extra) -> dict:
        return {"log": str(self.path), "effects": str(self.effects), "seconds": seconds, **extra}


@pytest.fixture
def probe_log(tmp_path) -> ProbeLog:
    return ProbeLog(tmp_path / "probe.log")


def enqueue_probes(probe_log: ProbeLog, count: int, seconds: float, queue: str = "thumbnailGeneration", **extra):
    from jobs_app.services import enqueue

    return [enqueue(queue, "TestProbe", probe_log.job_data(seconds, **extra)) for _ in range(count)]


def all_finished(queue: str = "thumbnailGeneration") -> bool:
    return not Job.objects.filter(queue=queue, status__in=Job.PENDING).exists()


@pytest.fixture
def start_worker(child_env, tmp_path):
    """Start `manage.py runjobs` (own process group) and wait until it reports its heartbeat."""
    processes = []

    def start(*args: str, env: dict | None = None, wait: bool = True) -> subprocess.Popen:
        output = open(tmp_path / f"worker-{len(processes)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runjobs", "--import", "tests.jobs_app.probe_tasks", *args],
            cwd=ROOT, env={**child_env, **FAST_WORKER_ENV, **(env or {})}, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        process.output_path = output.name
        processes.append(process)
        if wait:
            wait_for(lambda: process.poll() is not None or WorkerHeartbeat.objects.filter(pid=process.pid).exists(),
                     message="the worker's first heartbeat")
            assert process.poll() is None, Path(output.name).read_text()
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        try:  # nothing of the worker may outlive the test (its database is flushed next)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def worker_output(process) -> str:
    return Path(process.output_path).read_text()
