"""Test-only job handlers, loaded into worker processes with `runjobs --import tests.jobs_app.probe_tasks`.

TestProbe appends "start"/"end" lines (job id, wall-clock time, pid) to a log file, so that a test can
compute how many jobs ran at once across every worker process, and applies an idempotent effect half-way
(a key recorded once in an effects file, however often the job runs). With a "release" path it runs until
that file exists."""

import fcntl
import os
import time
from pathlib import Path

from jobs_app.handlers import job_handler


def append_line(path: Path, line: str) -> None:
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.write(line + "\n")
        file.flush()


def apply_effect_once(path: Path, key: str) -> None:
    with open(path, "a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        if key not in file.read().split():
            file.write(key + "\n")
            file.flush()


@job_handler("TestProbe")
def probe(job):
    data = job.data
    log = Path(data["log"])
    append_line(log, f"start {job.pk} {time.time():.6f} {os.getpid()}")
    seconds = float(data.get("seconds", 0.3))
    time.sleep(seconds / 2)
    if data.get("effects"):
        apply_effect_once(Path(data["effects"]), str(data.get("key", job.pk)))
    time.sleep(seconds / 2)
    if data.get("release"):  # held until the test creates this file (a minute at most)
        deadline = time.monotonic() + 60
        while not Path(data["release"]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    append_line(log, f"end {job.pk} {time.time():.6f} {os.getpid()}")
    if data.get("fail"):
        raise RuntimeError(data["fail"])
    return "probed"


@job_handler("TestNoop")
def noop(job):
    return None
