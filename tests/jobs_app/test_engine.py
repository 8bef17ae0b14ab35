"""The claim protocol in-process: limits read from the settings, pause, leases, fencing and retries."""

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs_app import conf, engine, identity, runner, services
from jobs_app.models import Job, WorkerHeartbeat
from settings_app.services import save_values

from .conftest import wait_for

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


def test_renewal_keeps_only_the_jobs_a_live_pool_process_is_running():
    queue_jobs(3)
    running, abandoned, unstarted = engine.claim_ready([QUEUE], "host:1")
    engine.begin(running.job_id, running.token, 4242)
    engine.begin(abandoned.job_id, abandoned.token, 4343)  # its process died, or could not write its outcome
    Job.objects.update(lease_until=timezone.now() - timedelta(seconds=1))

    # Renewed: the job process 4242 runs now, and the claim no process has picked up yet (claimed moments ago).
    assert engine.renew_leases("host:1", [(4242, running.job_id), (4343, 999999)]) == 2
    assert engine.reclaim_expired() == 1
    assert Job.objects.get(pk=abandoned.job_id).status == Job.WAITING
    assert {job.pk for job in Job.objects.filter(status=Job.ACTIVE)} == {running.job_id, unstarted.job_id}
    # A claim nobody picks up is renewed for one lease period after its claim, not forever.
    Job.objects.filter(pk=unstarted.job_id).update(started_at=engine.seconds_from_now(-conf.LEASE_SECONDS - 1))
    assert engine.renew_leases("host:1", [(4242, running.job_id)]) == 1
    # ...unless a pool process has taken it and waits for a busy database to record that it began.
    assert engine.renew_leases("host:1", [(4242, running.job_id), (4444, unstarted.job_id)]) == 2


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


def test_a_claim_takes_no_more_than_the_free_processes_of_the_machine(admin_user):
    queue_jobs(5)
    queue_jobs(5, "library")
    claims = engine.claim_ready([QUEUE, "library"], "host:1", capacity=4)
    assert [claim.queue for claim in claims] == [QUEUE] * 3 + ["library"]  # 3 = the thumbnail queue's limit
    assert engine.claim_ready([QUEUE, "library"], "host:1", capacity=0) == []


def test_leases_compare_at_sub_second_precision_on_the_database_clock():
    (job,) = queue_jobs(1)
    engine.claim_ready([QUEUE], "host:1")
    Job.objects.filter(pk=job.pk).update(lease_until=engine.seconds_from_now(0.5))
    assert engine.reclaim_expired() == 0
    Job.objects.filter(pk=job.pk).update(lease_until=engine.seconds_from_now(-0.3))
    assert engine.reclaim_expired() == 1


def test_a_machine_clock_far_ahead_neither_takes_over_live_jobs_nor_claims_early(monkeypatch):
    (job,) = queue_jobs(1)
    (claim,) = engine.claim_ready([QUEUE], "host:1")
    engine.begin(claim.job_id, claim.token, 4242)
    later = services.enqueue(QUEUE, "TestNoop", delay=20)

    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=30))  # this machine's clock
    assert engine.reclaim_expired() == 0
    assert engine.claim_ready([QUEUE], "host:2") == []  # still delayed on the database's clock
    job.refresh_from_db(), later.refresh_from_db()
    assert (job.status, job.claimed_by, later.status) == (Job.ACTIVE, "host:1", Job.WAITING)
    assert engine.renew_leases("host:1", [(4242, job.pk)]) == 1
    job.refresh_from_db()
    assert job.lease_until - real_now() <= timedelta(seconds=conf.LEASE_SECONDS)


def test_a_worker_on_this_machine_that_is_gone_has_its_jobs_run_again_at_once():
    me = identity.current()
    child = subprocess.Popen(["sleep", "30"])
    alive = identity.WorkerIdentity(me.host, child.pid, me.scope, identity.process_start(child.pid))
    child.kill(), child.wait()  # the worker "alive" dies (its pool processes die with it)
    gone = str(alive)
    running, claimed_only, other_host, alive_workers = queue_jobs(4)
    Job.objects.filter(pk__in=[running.pk, claimed_only.pk]).update(status=Job.ACTIVE, claimed_by=gone,
                                                                      claim_token="t", lease_until=timezone.now())
    Job.objects.filter(pk=running.pk).update(executor_pid=child.pid)
    elsewhere = str(identity.WorkerIdentity("another-host", child.pid, "0123456789", alive.start))
    Job.objects.filter(pk=other_host.pk).update(status=Job.ACTIVE, claimed_by=elsewhere, claim_token="t")
    Job.objects.filter(pk=alive_workers.pk).update(status=Job.ACTIVE, claimed_by=str(me), claim_token="t")
    WorkerHeartbeat.objects.create(worker_id=gone, hostname=me.host, pid=child.pid)

    assert identity.is_gone(gone, me) and not identity.is_gone(str(me), me) and not identity.is_gone(elsewhere, me)
    assert engine.release_gone_workers(me) == 2
    statuses = {job.pk: (job.status, job.lost) for job in Job.objects.all()}
    assert statuses == {running.pk: (Job.WAITING, 1), claimed_only.pk: (Job.WAITING, 0),
                        other_host.pk: (Job.ACTIVE, 0), alive_workers.pk: (Job.ACTIVE, 0)}
    assert not WorkerHeartbeat.objects.filter(worker_id=gone).exists()
    assert engine.release_gone_workers(me) == 0  # counted as lost once


def test_a_pid_now_used_by_another_process_is_not_the_worker():
    me = identity.current()
    child = subprocess.Popen(["sleep", "30"])
    try:
        reused = identity.WorkerIdentity(me.host, child.pid, me.scope, "1")  # same pid, another start time
        assert identity.is_gone(str(reused), me)
        live = identity.WorkerIdentity(me.host, child.pid, me.scope, identity.process_start(child.pid))
        assert not identity.is_gone(str(live), me)
        assert identity.WorkerIdentity.parse(str(live)) == live
    finally:
        child.kill(), child.wait()


def test_stuck_jobs_are_the_active_ones_without_a_live_worker_and_requeue_without_counting_as_lost():
    live, stale, unknown = queue_jobs(3)
    WorkerHeartbeat.objects.create(worker_id="live:1", hostname="live", pid=1, last_seen=timezone.now())
    WorkerHeartbeat.objects.create(worker_id="stale:2", hostname="stale", pid=2,
                                   last_seen=timezone.now() - timedelta(seconds=conf.WORKER_ALIVE_SECONDS + 5))
    for job, worker in ((live, "live:1"), (stale, "stale:2"), (unknown, "unknown:3")):
        Job.objects.filter(pk=job.pk).update(status=Job.ACTIVE, claimed_by=worker, claim_token="t",
                                             lease_until=timezone.now() + timedelta(seconds=60))

    assert services.stuck_job_count() == 2
    assert services.requeue_stuck_jobs() == "2 stuck jobs queued again."
    statuses = {job.pk: (job.status, job.lost, job.claimed_by) for job in Job.objects.all()}
    assert statuses == {live.pk: (Job.ACTIVE, 0, "live:1"), stale.pk: (Job.WAITING, 0, ""),
                        unknown.pk: (Job.WAITING, 0, "")}
    assert services.stuck_job_count() == 0
    assert services.requeue_stuck_jobs() == "No stuck jobs: every active job belongs to a running worker."


def test_a_worker_that_exited_but_was_not_reaped_yet_counts_as_gone():
    me = identity.current()
    child = subprocess.Popen(["sh", "-c", "read line; exit 0"], stdin=subprocess.PIPE)
    started = identity.process_start(child.pid)
    assert started
    child.stdin.close()  # it exits; not waited for, so it stays a zombie
    wait_for(lambda: identity.process_start(child.pid) == "", message="the child to exit")
    assert (identity.PROC / str(child.pid)).exists()  # still in the process table
    assert identity.is_gone(str(identity.WorkerIdentity(me.host, child.pid, me.scope, started)), me)
    assert child.wait() == 0
