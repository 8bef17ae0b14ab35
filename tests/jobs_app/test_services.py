"""Queue commands (Immich's start/pause/resume/empty/clear-failed, plus retry), counts, progress and the
"queue all" fan-out, in-process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs_app import engine, runner, services, tasks
from jobs_app.handlers import get_handler
from jobs_app.models import Job, QueueRun
from jobs_app.queues import QUEUES, QUEUES_BY_NAME
from settings_app.registry import CATEGORIES_BY_SLUG
from settings_app.services import save_values

pytestmark = pytest.mark.django_db


def run_all(queue_names, worker="test:1") -> None:
    """Work the queues in this process until nothing is claimable (the runner, without a cluster)."""
    while claims := engine.claim_ready(queue_names, worker):
        for claim in claims:
            runner.run_job(claim.job_id, claim.token)


@pytest.fixture
def asset_ids():
    """Register a media queue's id source of `count` ids, as the media issues register theirs; returns the
    list of ids the source has produced so far."""
    produced = []
    registered = tasks.ITEM_SOURCES.get("thumbnailGeneration")  # media_app's, put back afterwards

    def register(count: int) -> list:
        def source(force):
            for item in range(count):
                produced.append(item)
                yield item

        tasks.register_item_source("thumbnailGeneration", source)
        return produced

    yield register
    tasks.ITEM_SOURCES["thumbnailGeneration"] = registered


def test_the_registry_drives_the_job_settings_and_every_queue_has_handlers():
    category = CATEGORIES_BY_SLUG["job"]
    assert {key.path for key in category.keys} == {q.setting_path for q in QUEUES if not q.is_fixed}
    assert {note.label for note in category.fixed_notes} == {f"{q.title} concurrency" for q in QUEUES if q.is_fixed}
    for queue in QUEUES:
        if queue.can_start:
            assert get_handler(queue.queue_all_job), queue.name
            assert queue.start_modes, queue.name
        if queue.item_job:
            assert get_handler(queue.item_job), queue.name
    assert not get_handler("AssetGenerateThumbnails").placeholder  # media_app.tasks registers the real one


def test_start_queues_the_queue_all_job_and_refuses_a_running_queue(admin_user):
    message = services.start_queue("thumbnailGeneration", True, user=admin_user)
    assert message == "Generate Thumbnails: All started."
    job = Job.objects.get(queue="thumbnailGeneration")
    assert (job.name, job.data) == ("AssetGenerateThumbnailsQueueAll", {"force": True})
    assert job.run.started_by == admin_user and job.run.label == "All"

    with pytest.raises(services.QueueBusy, match="already running"):
        services.start_queue("thumbnailGeneration", False)
    assert Job.objects.filter(queue="thumbnailGeneration").count() == 1


def test_start_modes_follow_immich(admin_user):
    assert services.start_queue("faceDetection", None).startswith("Face Detection: Refresh")
    assert services.start_queue("thumbnailGeneration", None).startswith("Generate Thumbnails: Missing")
    with pytest.raises(services.JobCommandError, match="has no “all” mode"):
        services.start_queue("library", True)
    with pytest.raises(services.JobCommandError, match="Invalid job name"):
        services.start_queue("backgroundTask", False)
    with pytest.raises(services.UnknownQueue, match="Unknown queue “nope”"):
        services.start_queue("nope", False)


def test_a_queue_whose_feature_is_off_cannot_start(admin_user):
    assert save_values({"machineLearning.clip.enabled": False}, user=admin_user).ok
    with pytest.raises(services.JobCommandError, match="Disabled: turn on Enable smart search"):
        services.start_queue("smartSearch", True)
    assert not Job.objects.exists()


def test_queue_all_streams_ids_in_batches_into_per_item_jobs(asset_ids, admin_user):
    produced = asset_ids(2500)
    services.start_queue("thumbnailGeneration", False, user=admin_user)
    pulled_when_inserted = []
    original = services._insert_batch

    def spy(queue_name, name, batch, run_id):
        pulled_when_inserted.append((len(produced), len(batch)))
        original(queue_name, name, batch, run_id)

    services._insert_batch = spy
    try:
        (claim,) = engine.claim_ready(["thumbnailGeneration"], "test:1")
        runner.run_job(claim.job_id, claim.token)
    finally:
        services._insert_batch = original

    # Never more than one batch read ahead of what was written: the ids are streamed, not loaded.
    assert pulled_when_inserted == [(1000, 1000), (2000, 1000), (2500, 500)]
    items = Job.objects.filter(name="AssetGenerateThumbnails")
    assert items.count() == 2500 and items.filter(data={"id": 1234}).exists()
    progress = services.current_progress()["thumbnailGeneration"]
    assert (progress.run.total, progress.done, progress.run.enqueueing) == (2501, 1, False)


def test_progress_counts_the_run_down_to_done(asset_ids, admin_user):
    asset_ids(40)
    services.start_queue("thumbnailGeneration", True, user=admin_user)
    (claim,) = engine.claim_ready(["thumbnailGeneration"], "test:1")
    runner.run_job(claim.job_id, claim.token)  # the queue-all job
    for claim in engine.claim_ready(["thumbnailGeneration"], "test:1"):  # three at a time
        runner.run_job(claim.job_id, claim.token)
    progress = services.current_progress()["thumbnailGeneration"]
    assert (progress.done, progress.run.total, progress.percent, progress.finished) == (4, 41, 10, False)

    run_all(["thumbnailGeneration"])
    progress = services.current_progress()["thumbnailGeneration"]
    assert (progress.done, progress.percent, progress.finished) == (41, 100, True)
    assert sum(services.throughput()["thumbnailGeneration"]) == 41


def test_counts_tell_waiting_delayed_paused_active_failed_completed():
    for _ in range(3):
        services.enqueue("library", "TestNoop")
    services.enqueue("library", "TestNoop", delay=60)
    (claim, *_) = engine.claim_ready(["library"], "test:1")
    Job.objects.create(queue="library", name="X", status=Job.FAILED, finished_at=timezone.now())
    Job.objects.create(queue="library", name="X", status=Job.COMPLETED, finished_at=timezone.now())
    counts = services.queue_counts()["library"]
    assert counts.as_dict() == {"active": 3, "completed": 1, "failed": 1, "delayed": 1, "waiting": 0, "paused": 0}

    services.enqueue("sidecar", "TestNoop")
    services.set_paused("sidecar", True)
    assert services.queue_counts()["sidecar"].as_dict() == {
        "active": 0, "completed": 0, "failed": 0, "delayed": 0, "waiting": 0, "paused": 1}


def test_pause_resume_empty_clear_and_retry():
    for _ in range(4):
        services.enqueue("sidecar", "TestNoop")
    (first, *_) = engine.claim_ready(["sidecar"], "test:1")
    assert services.run_command("sidecar", "pause") == (
        "Sidecar Metadata: paused — running jobs finish, no new ones start.")
    assert services.run_command("sidecar", "empty") == "Sidecar Metadata: removed 0 waiting jobs."
    assert Job.objects.filter(queue="sidecar", status=Job.ACTIVE).count() == 4  # running jobs are not touched

    Job.objects.filter(queue="sidecar").update(status=Job.FAILED, error="boom", finished_at=timezone.now())
    assert services.run_command("sidecar", "retry-failed") == "Sidecar Metadata: 4 failed jobs queued again."
    assert services.run_command("sidecar", "empty") == "Sidecar Metadata: removed 4 waiting jobs."
    services.enqueue("sidecar", "TestNoop")
    Job.objects.filter(queue="sidecar").update(status=Job.FAILED)
    assert services.run_command("sidecar", "clear-failed") == "Sidecar Metadata: cleared 1 failed job."
    assert services.run_command("sidecar", "resume") == "Sidecar Metadata: resumed."
    assert not Job.objects.filter(queue="sidecar").exists()


def test_background_tasks_cannot_be_paused():
    with pytest.raises(services.JobCommandError, match="The BackgroundTask queue cannot be paused"):
        services.set_paused("backgroundTask", True)


def test_retrying_one_failed_job():
    job = Job.objects.create(queue="library", name="TestNoop", status=Job.FAILED, error="boom", failures=1)
    assert services.retry_job(job.pk) == f"External Libraries: job TestNoop #{job.pk} queued again."
    job.refresh_from_db()
    assert (job.status, job.error, job.failures) == (Job.WAITING, "", 0)
    with pytest.raises(services.JobCommandError, match="not failed any more"):
        services.retry_job(job.pk)


def test_dedupe_keys_keep_one_pending_copy():
    assert services.enqueue("backgroundTask", "VersionCheck", dedupe_key="VersionCheck")
    assert services.enqueue("backgroundTask", "VersionCheck", dedupe_key="VersionCheck") is None
    Job.objects.update(status=Job.COMPLETED)
    assert services.enqueue("backgroundTask", "VersionCheck", dedupe_key="VersionCheck")


def test_the_nightly_user_deletion_check_removes_due_users(django_user_model, admin_user):
    due = django_user_model.objects.create_user("due@example.com", "x" * 10,
                                                deleted_at=timezone.now() - timedelta(days=8))
    recent = django_user_model.objects.create_user("recent@example.com", "x" * 10,
                                                   deleted_at=timezone.now() - timedelta(days=2))
    services.enqueue("backgroundTask", "UserDeleteCheck")
    run_all(["backgroundTask"])
    assert not django_user_model.objects.filter(pk=due.pk).exists()
    assert django_user_model.objects.filter(pk=recent.pk).exists()  # user.deleteDelay is 7 days


def test_every_queue_is_known_by_name():
    assert set(QUEUES_BY_NAME) == {
        "thumbnailGeneration", "metadataExtraction", "videoConversion", "faceDetection", "facialRecognition",
        "smartSearch", "duplicateDetection", "backgroundTask", "storageTemplateMigration", "migration", "sidecar",
        "library", "notifications", "backupDatabase", "search", "workflow", "editor", "integrityCheck", "ocr"}
    assert QueueRun.objects.count() == 0


# --- Retention of finished jobs ---------------------------------------------------------------------------


def test_the_nightly_cleanup_removes_old_completed_jobs_in_batches_and_keeps_failed_ones(monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs_app import conf

    monkeypatch.setattr(conf, "COMPLETED_RETENTION_DAYS", 7)
    now = timezone.now()
    old, recent = now - timedelta(days=7, minutes=1), now - timedelta(days=6, hours=23)
    Job.objects.bulk_create(
        [Job(queue="backgroundTask", name="Old", status=Job.COMPLETED, finished_at=old) for _ in range(5)]
        + [Job(queue="backgroundTask", name="Recent", status=Job.COMPLETED, finished_at=recent),
           Job(queue="backgroundTask", name="OldFailure", status=Job.FAILED, finished_at=old - timedelta(days=90)),
           Job(queue="backgroundTask", name="Waiting", status=Job.WAITING)])

    with CaptureQueriesContext(connection) as queries:
        assert services.purge_completed_jobs(now, batch_size=2) == 5
    deletes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 2 + 2 + 1 rows, each in its own short transaction
    assert set(Job.objects.values_list("name", flat=True)) == {"Recent", "OldFailure", "Waiting"}

    job = Job.objects.create(queue="backgroundTask", name="JobHistoryCleanup")
    Job.objects.filter(name="Recent").update(finished_at=now - timedelta(days=8))
    assert get_handler("JobHistoryCleanup").func(job) == "removed 1 completed job(s) finished more than 7 day(s) ago"
    assert not Job.objects.filter(name="Recent").exists()
