"""Holds: a queue the server itself holds (a service its jobs need is down) lets its jobs wait, one probe
job per interval through, and runs everything again once released; RetryLater puts a job back without
counting a failure."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs_app import engine, runner, services
from jobs_app.handlers import RetryLater, job_handler
from jobs_app.models import Job, QueueState

pytestmark = pytest.mark.django_db
QUEUE = "faceDetection"


@job_handler("TestNeedsService")
def needs_service(job):
    raise RetryLater("waiting for the service", delay=60)


def test_a_held_queue_lets_one_probe_through_per_interval_then_runs_all_once_released():
    jobs = [services.enqueue(QUEUE, "TestNoop") for _ in range(4)]
    newly = services.hold_queues([QUEUE, "smartSearch"], "waiting for machine learning at http://x:3003", 30)
    assert sorted(newly) == sorted([QUEUE, "smartSearch"])
    assert services.hold_queues([QUEUE], "waiting for machine learning at http://x:3003", 30) == []
    assert engine.claim_ready([QUEUE], "host:1") == []  # the first probe is one interval away
    QueueState.objects.filter(pk=QUEUE).update(hold_probe_at=timezone.now() - timedelta(seconds=1))
    (probe,) = engine.claim_ready([QUEUE], "host:1")
    assert engine.claim_ready([QUEUE], "host:1") == []  # one probe at a time, the next one an interval later
    assert QueueState.objects.get(pk=QUEUE).hold_probe_at > timezone.now() + timedelta(seconds=25)
    status = services.queue_status(QUEUE)
    assert status.hold_reason == "waiting for machine learning at http://x:3003" and not status.is_paused

    assert sorted(services.release_queues([QUEUE, "smartSearch", "ocr"])) == sorted([QUEUE, "smartSearch"])
    assert len(engine.claim_ready([QUEUE], "host:1")) == 1  # concurrency 2, the probe still active
    assert services.held_queues() == {}
    assert Job.objects.filter(pk__in=[j.pk for j in jobs], status=Job.ACTIVE).count() == 2


def test_hold_is_shown_on_the_jobs_page(admin_client):
    services.enqueue(QUEUE, "TestNoop")
    services.hold_queues([QUEUE], "waiting for machine learning at http://127.0.0.1:9", 30)
    page = admin_client.get("/admin/jobs/").content.decode()
    assert "waiting for machine learning at http://127.0.0.1:9" in page


def test_retry_later_puts_the_job_back_without_a_failure():
    job = services.enqueue(QUEUE, "TestNeedsService")
    (claim,) = engine.claim_ready([QUEUE], "host:1")
    outcome = runner.run_job(claim.job_id, claim.token)
    job.refresh_from_db()
    assert outcome == "waiting: waiting for the service"
    assert (job.status, job.failures, job.error) == (Job.WAITING, 0, "waiting for the service")
    assert job.run_at > timezone.now() + timedelta(seconds=50)
    services.hold_queues([QUEUE], "down", 30)
    services.release_queues([QUEUE])
    job.refresh_from_db()
    assert job.run_at <= timezone.now()  # released: the waiting job runs at once
