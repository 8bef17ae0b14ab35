"""Jobs engine figures on the embedded default (SQLite, polling) and on PostgreSQL + Redis:

- throughput: trivial jobs (a handler that returns at once) through real `manage.py runjobs` workers, at a
  queue concurrency of 5 (Immich's default for background tasks) and 16;
- settings-to-worker propagation: a queue at concurrency 1 with jobs waiting; the time from saving
  concurrency 4 until 4 jobs are running in the worker (measured from the jobs' own start times).

    .venv/bin/python bench/jobs.py [--jobs 2000] [--rounds 5] [--backend sqlite|postgres|both]

PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth; a scratch database `photoserver_bench` is created
and dropped) and Redis at 127.0.0.1:6379 db 15. The SQLite database lives in a temporary folder. Worker
timings are production defaults (jobs_app/conf.py)."""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "photoserver_bench"
REDIS_URL = "redis://127.0.0.1:6379/15"


def backend_env(backend: str, data_dir: str) -> dict:
    env = {**os.environ, "DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None), env.pop("REDIS_URL", None)
    if backend == "postgres":
        env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}", REDIS_URL=REDIS_URL)
    return env


def recreate_postgres_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_BENCH_DB}")


def drop_postgres_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


# --- Inside one backend (a child process with that backend's settings) -------------------------------


def measure(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from jobs_app import services
    from jobs_app.models import Job, WorkerHeartbeat
    from settings_app.services import save_values

    admin = get_user_model().objects.create_superuser("bench@example.com", "bench-password", name="Bench")

    def set_concurrency(queue: str, value: int) -> None:
        assert save_values({f"job.{queue}.concurrency": value}, user=admin).ok

    def wait(condition, timeout=120, interval=0.01):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(interval)
        raise TimeoutError("benchmark condition not reached")

    worker = subprocess.Popen(
        # The machine cap is lifted: the figures are about the queues' concurrencies, not this machine's CPUs.
        [sys.executable, "manage.py", "runjobs", "--import", "tests.jobs_app.probe_tasks", "--no-scheduler",
         "--max-processes", "16"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    results = {"throughput": {}, "propagation": []}
    try:
        wait(lambda: WorkerHeartbeat.objects.filter(pid=worker.pid).exists(), timeout=60)
        for concurrency in (5, 16):
            set_concurrency("metadataExtraction", concurrency)
            time.sleep(1.5)  # let the worker see the limit before the clock starts
            started = time.perf_counter()
            services.enqueue_stream("metadataExtraction", "TestNoop", ({} for _ in range(args.jobs)))
            wait(lambda: not Job.objects.filter(status__in=Job.PENDING).exists(), interval=0.02)
            elapsed = time.perf_counter() - started
            results["throughput"][concurrency] = round(args.jobs / elapsed, 1)
            Job.objects.all().delete()

        log = Path(os.environ["DATA_DIR"]) / "probe.log"
        for _ in range(args.rounds):
            set_concurrency("thumbnailGeneration", 1)
            log.unlink(missing_ok=True)
            for _ in range(40):
                services.enqueue("thumbnailGeneration", "TestProbe", {"log": str(log), "seconds": 0.5})
            wait(lambda: log.exists() and log.read_text().count("end") >= 2)
            saved_at = time.time()
            set_concurrency("thumbnailGeneration", 4)
            wait(lambda since=saved_at: _max_running(log, since=since)[0] >= 4)
            results["propagation"].append(round(_max_running(log, since=saved_at)[1] - saved_at, 3))
            services.empty_queue("thumbnailGeneration")
            wait(lambda: not Job.objects.filter(status__in=Job.PENDING).exists())
            Job.objects.all().delete()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    return results


def _max_running(log: Path, since: float) -> tuple[int, float]:
    """(most jobs running at once after `since`, when that count was first reached)."""
    events = []
    for line in log.read_text().splitlines():
        kind, _, at, _ = line.split()
        events.append((float(at), 1 if kind == "start" else -1))
    running, best, best_at = 0, 0, 0.0
    for at, delta in sorted(events):
        running += delta
        if at >= since and running > best:
            best, best_at = running, at
    return best, best_at


# --- Driver --------------------------------------------------------------------------------------------


def run_backend(backend: str, args) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"jobs-bench-{backend}-") as data_dir:
        if backend == "postgres":
            recreate_postgres_database()
        try:
            output = subprocess.run(
                [sys.executable, __file__, "--inside", "--jobs", str(args.jobs), "--rounds", str(args.rounds)],
                env=backend_env(backend, data_dir), cwd=ROOT, check=True, capture_output=True, text=True,
            ).stdout
        finally:
            if backend == "postgres":
                drop_postgres_database()
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(measure(args)))
        return
    labels = {"sqlite": "SQLite (ORM, polling)", "postgres": "PostgreSQL + Redis"}
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        result = run_backend(backend, args)
        latencies = result["propagation"]
        print(f"{labels[backend]}:")
        for concurrency, rate in result["throughput"].items():
            print(f"  throughput, {args.jobs} trivial jobs at concurrency {concurrency}: {rate} tasks/s")
        print(f"  settings -> worker propagation (concurrency 1 -> 4 applied, {len(latencies)} rounds): "
              f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s")


if __name__ == "__main__":
    main()
