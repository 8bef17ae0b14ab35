"""Timing knobs of the jobs engine. Production defaults; tests and the benchmark shorten them through the
environment of the worker processes they start."""

import os


def _seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# A claimed job belongs to its worker while the worker renews the lease; a worker that dies (kill -9,
# power loss) stops renewing and its jobs run again elsewhere once the lease runs out.
LEASE_SECONDS = _seconds("JOBS_LEASE_SECONDS", 30)
# How often a worker renews its leases and reports that it is alive.
HEARTBEAT_SECONDS = _seconds("JOBS_HEARTBEAT_SECONDS", min(5.0, LEASE_SECONDS / 3))
# A worker not seen for this long counts as gone (the dashboard's "no worker" banner).
WORKER_ALIVE_SECONDS = max(10.0, 3 * HEARTBEAT_SECONDS)
# How long an idle claimer waits before looking for work again (a Redis wake-up or a finishing job on
# the same machine cuts the wait short).
POLL_SECONDS = _seconds("JOBS_POLL_SECONDS", 0.25)
# How often the scheduler looks at its cron schedules (and notices changed settings).
SCHEDULER_TICK_SECONDS = _seconds("JOBS_SCHEDULER_TICK_SECONDS", 1.0)
# How long a stopping worker lets running jobs finish before it hands them back to the queue.
STOP_GRACE_SECONDS = _seconds("JOBS_STOP_GRACE_SECONDS", 12)
# An outcome (done/failed) the database refuses is written again this many times in all, after pauses of
# OUTCOME_RETRY_SECONDS, doubling; then the job is let go and runs again once its lease lapses.
OUTCOME_WRITE_ATTEMPTS = 4
OUTCOME_RETRY_SECONDS = 0.5
# Pool processes of one `runjobs` machine at most (`runjobs --max-processes`), whatever the cluster-wide
# concurrencies add up to: the machine claims only as many jobs as it has room for.
MAX_PROCESSES = int(os.environ.get("JOBS_MAX_PROCESSES") or os.cpu_count() or 1)
# A job whose worker died this many times is failed instead of tried again (it may be what kills them).
MAX_LOST = int(os.environ.get("JOBS_MAX_LOST", 3))
# Completed jobs are kept this long (the throughput graph, progress bars, the "completed" count), then the
# nightly database cleanup removes them, PURGE_BATCH_SIZE rows per short transaction. Failed jobs stay until
# an administrator clears them.
COMPLETED_RETENTION_DAYS = float(os.environ.get("JOBS_COMPLETED_RETENTION_DAYS", 7))
PURGE_BATCH_SIZE = 1000
# Immich's JOBS_ASSET_PAGINATION_SIZE: "queue all" jobs stream ids and queue them this many at a time.
QUEUE_ALL_BATCH_SIZE = int(os.environ.get("JOBS_QUEUE_ALL_BATCH_SIZE", 1000))
# Pool processes kept ready beyond the jobs in flight, so that a new job starts without a fork.
SPARE_WORKERS = int(os.environ.get("JOBS_SPARE_WORKERS", 1))
# Idle pool processes beyond that are retired after this long.
RETIRE_IDLE_SECONDS = _seconds("JOBS_RETIRE_IDLE_SECONDS", 30)
