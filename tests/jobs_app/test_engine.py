"""The claim protocol in-process: limits read from the settings, pause, leases, fencing and retries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs_app import conf, engine, runner, services
from jobs_app.models import Job
from settings_app.services import save_values

pytestmark = pytest.mark.django_db
QUEUE = "thumbnailGeneration"


def queue_jobs(count: int, queue: str = QUEUE, name: str = "TestNoop") -> list[Job]:
    return [services.enqueue(queue, name) for _ in range(count)]


def test_a_claim_takes_no_more_than_the_saved_concurrency(admin_user):
    queue_jobs(10)
    assert len(engine.claim_ready([QUEUE], "host:1")) == 3  # Immich's default for thumbnails
    assert engine.claim_ready([QUEUE], "host:2") == []  # full, whoever asks

    assert save_values({"job.thumbnailGeneration.concurrency": 5}, user=admin_user).ok
    assert len(engine.claim_ready([QUEUE], "host:2")) == 2
    assert Job.objects.filter(status=Job.ACTIVE).count() == 5


def test_fixed_queues_run_one_job_at_a_time():
    queue_jobs(3, "facialRecognition")
    assert engine.concurrency_of("facialRecognition") == 1
    assert len(engine.claim_ready(["facialRecognition"], "host:1")) == 1


def test_a_paused_queue_gives_nothing_and_resumes():
    queue_jobs(2)
    services.set_paused(QUEUE, True)
    assert engine.claim_ready([QUEUE], "host:1") == []
    services.set_paused(QUEUE, False)
    assert len(engine.claim_ready([QUEUE], "host:1")) == 2


def test_claims_follow_priority_then_age():
    late = services.enqueue(QUEUE, "TestNoop")
    urgent = services.enqueue(QUEUE, "TestNoop", priority=-1)
    delayed = services.enqueue(QUEUE, "TestNoop", delay=60)
    claimed = [claim.job_id for claim in engine.claim_ready([QUEUE], "host:1")]
    assert claimed == [urgent.pk, late.pk] and delayed.pk not in claimed


def test_an_expired_lease_puts_the_job_back_and_too_many_losses_fail_it():
    (job,) = queue_jobs(1)
    for lost in range(1, conf.MAX_LOST + 1):
        (claim,) = engine.claim_ready([QUEUE], "dead-host:1")
        Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert engine.reclaim_expired() == 1
        job.refresh_from_db()
        if lost < conf.MAX_LOST:
            assert (job.status, job.lost, job.claimed_by) == (Job.WAITING, lost, "")
    assert job.status == Job.FAILED and "3 times" in job.error


def test_renewal_keeps_a_live_workers_jobs():
    queue_jobs(1)
    (claim,) = engine.claim_ready([QUEUE], "host:1")
    engine.begin(claim.job_id, claim.token, 4242)
    Job.objects.filter(pk=claim.job_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert engine.renew_leases("host:1") == 1
    assert engine.reclaim_expired() == 0


def test_a_stale_claim_cannot_record_an_outcome():
    (job,) = queue_jobs(1)
    (old,) = engine.claim_ready([QUEUE], "host:1")
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    engine.reclaim_expired()
    (new,) = engine.claim_ready([QUEUE], "host:2")

    assert engine.begin(old.job_id, old.token, 1) is None  # the first worker must not start it again
    assert engine.complete(old.job_id, old.token) is False
    assert engine.complete(new.job_id, new.token) is True


def test_the_runner_records_success_failure_and_unknown_jobs(tmp_path):
    ok = services.enqueue(QUEUE, "TestNoop")
    unknown = services.enqueue(QUEUE, "NoSuchJob")
    claims = {claim.job_id: claim for claim in engine.claim_ready([QUEUE], "host:1")}
    for job in (ok, unknown):
        runner.run_job(job.pk, claims[job.pk].token)
    ok.refresh_from_db(), unknown.refresh_from_db()
    assert ok.status == Job.COMPLETED and ok.finished_at
    assert unknown.status == Job.FAILED and "No handler is registered for the job NoSuchJob" in unknown.error


def test_failures_are_retried_with_a_delay_where_the_queue_allows(probe_log):
    failing = {"log": str(probe_log.path), "seconds": 0, "fail": "SMTP server said no"}
    mail = services.enqueue("notifications", "TestProbe", failing)  # notifications: 3 attempts
    once = services.enqueue(QUEUE, "TestProbe", failing)  # Immich's default: 1 attempt
    for claim in engine.claim_ready(["notifications", QUEUE], "host:1"):
        runner.run_job(claim.job_id, claim.token)
    mail.refresh_from_db(), once.refresh_from_db()
    assert (mail.status, mail.failures) == (Job.WAITING, 1) and mail.run_at > timezone.now()
    assert services.queue_counts()["notifications"].delayed == 1
    assert once.status == Job.FAILED and "SMTP server said no" in once.error


def test_a_dead_pool_process_gives_its_job_back_at_once():
    (job,) = queue_jobs(1)
    (claim,) = engine.claim_ready([QUEUE], "host:1")
    engine.begin(claim.job_id, claim.token, 999)
    assert engine.release_executor("host:1", 999, timed_out=False) == 1
    job.refresh_from_db()
    assert (job.status, job.lost) == (Job.WAITING, 1)
