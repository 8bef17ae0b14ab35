"""The completed/failed counts of the dashboard and the API come from per-queue counters kept by database
triggers. They must equal a row-by-row count after every kind of change: claims, completions, failures,
retries, clear-failed, the retention cleanup, the migration that builds them, and real workers at once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Q
from django.utils import timezone

from jobs_app import engine, runner, services
from jobs_app.models import FinishedJobCount, Job

from .conftest import all_finished, enqueue_probes, wait_for, worker_output

QUEUE = "thumbnailGeneration"


def counted_row_by_row() -> dict[str, tuple[int, int]]:
    rows = Job.objects.values_list("queue").order_by().annotate(
        completed=Count("id", filter=Q(status=Job.COMPLETED)), failed=Count("id", filter=Q(status=Job.FAILED)))
    return {queue: (completed, failed) for queue, completed, failed in rows if completed or failed}


def counted_by_the_service() -> dict[str, tuple[int, int]]:
    return {queue: (counts.completed, counts.failed) for queue, counts in services.queue_counts().items()
            if counts.completed or counts.failed}


def run_all(queue_names) -> None:
    while claims := engine.claim_ready(queue_names, "test:1"):
        for claim in claims:
            runner.run_job(claim.job_id, claim.token)


@pytest.mark.django_db
def test_counts_follow_claims_completions_failures_retries_clears_and_the_cleanup(probe_log, monkeypatch):
    from jobs_app import conf

    enqueue_probes(probe_log, 3, seconds=0, queue="library")
    enqueue_probes(probe_log, 2, seconds=0, queue="library", fail="boom")
    first, *others = engine.claim_ready(["library"], "test:1")
    assert counted_by_the_service() == {}  # claimed jobs are active, not finished
    runner.run_job(first.job_id, first.token)
    assert counted_by_the_service() == {"library": (1, 0)}
    for claim in others:
        runner.run_job(claim.job_id, claim.token)
    run_all(["library"])
    assert counted_by_the_service() == counted_row_by_row() == {"library": (3, 2)}

    assert services.retry_failed("library").startswith("External Libraries: 2 failed jobs")
    assert counted_by_the_service() == {"library": (3, 0)}
    run_all(["library"])
    assert counted_by_the_service() == {"library": (3, 2)}
    failed = Job.objects.filter(status=Job.FAILED).first()
    services.retry_job(failed.pk)
    assert counted_by_the_service() == {"library": (3, 1)}
    services.clear_failed("library")
    assert counted_by_the_service() == counted_row_by_row() == {"library": (3, 0)}

    # The worker lost a claimed job too often: it fails (one statement over several queues).
    enqueue_probes(probe_log, 1, seconds=0, queue="sidecar")
    (lost, *_) = engine.claim_ready(["sidecar"], "gone:1")
    Job.objects.filter(pk=lost.job_id).update(lost=conf.MAX_LOST - 1, lease_until=timezone.now() - timedelta(1))
    assert engine.reclaim_expired() == 1
    assert counted_by_the_service() == counted_row_by_row() == {"library": (3, 0), "sidecar": (0, 1)}

    monkeypatch.setattr(conf, "COMPLETED_RETENTION_DAYS", 7)
    now = timezone.now()
    Job.objects.filter(queue="library", status=Job.COMPLETED).update(finished_at=now - timedelta(days=8))
    Job.objects.bulk_create([Job(queue=queue, name="Old", status=status, finished_at=now - timedelta(days=30))
                             for queue in ("backgroundTask", "sidecar") for status in (Job.COMPLETED, Job.FAILED)])
    assert counted_by_the_service() == {"library": (3, 0), "sidecar": (1, 2), "backgroundTask": (1, 1)}
    assert services.purge_completed_jobs(now, batch_size=2) == 5
    assert counted_by_the_service() == counted_row_by_row() == {"sidecar": (0, 2), "backgroundTask": (0, 1)}


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_while_workers_finish_jobs_and_the_cleanup_deletes(start_worker, probe_log, monkeypatch):
    """Two real worker processes complete and fail jobs in their own transactions while this process runs
    the retention cleanup over old completed rows of the same queue and clears failed jobs."""
    from jobs_app import conf

    monkeypatch.setattr(conf, "COMPLETED_RETENTION_DAYS", 7)
    old = timezone.now() - timedelta(days=8)
    Job.objects.bulk_create([Job(queue=QUEUE, name="Old", status=Job.COMPLETED, finished_at=old)
                             for _ in range(3000)])
    enqueue_probes(probe_log, 40, seconds=0.05)
    enqueue_probes(probe_log, 20, seconds=0.05, fail="boom")
    workers = [start_worker(), start_worker()]

    removed = 0
    while not all_finished():
        removed += services.purge_completed_jobs(batch_size=100)
        services.clear_failed(QUEUE)
    wait_for(all_finished, timeout=60, message="every probe job to finish")
    removed += services.purge_completed_jobs(batch_size=100)

    assert removed == 3000, [worker_output(worker) for worker in workers]
    assert counted_by_the_service() == counted_row_by_row()
    assert counted_row_by_row()[QUEUE][0] == 40


@pytest.mark.django_db(transaction=True)
def test_the_migration_builds_the_counters_from_existing_jobs():
    MigrationExecutor(connection).migrate([("jobs_app", "0005_queue_hold")])
    try:
        Job.objects.bulk_create([Job(queue=queue, name="X", status=status) for queue, status, n in (
            ("library", Job.COMPLETED, 4), ("library", Job.FAILED, 2), ("sidecar", Job.FAILED, 1),
            ("sidecar", Job.WAITING, 3)) for _ in range(n)])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(FinishedJobCount.objects.values_list("queue", "completed")) == {"library": 4, "sidecar": 0}
    assert counted_by_the_service() == counted_row_by_row() == {"library": (4, 2), "sidecar": (0, 1)}
