"""Immich's jobs and queues API, admin only."""

import json

import pytest
from django.test import Client

from jobs_app import engine, services
from jobs_app.models import Job
from jobs_app.queues import QUEUES
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db


def put(client, url, body, **headers):
    return client.put(url, json.dumps(body), content_type="application/json", **headers)


def test_get_jobs_has_every_queue_in_immichs_shape(admin_client):
    services.enqueue("library", "TestNoop")
    body = admin_client.get("/api/jobs").json()
    assert list(body) == [queue.name for queue in QUEUES]
    assert body["library"] == {
        "jobCounts": {"active": 0, "completed": 0, "failed": 0, "delayed": 0, "waiting": 1, "paused": 0},
        "queueStatus": {"isActive": False, "isPaused": False}}


def test_start_command_then_refused_while_running(admin_client, admin_user):
    response = put(admin_client, "/api/jobs/thumbnailGeneration", {"command": "start", "force": False})
    assert response.status_code == 200
    assert response.json()["jobCounts"]["waiting"] == 1
    assert Job.objects.get().data == {"force": False}

    engine.claim_ready(["thumbnailGeneration"], "test:1")
    response = put(admin_client, "/api/jobs/thumbnailGeneration", {"command": "start", "force": True})
    assert response.status_code == 400
    assert "already running" in response.json()["message"]
    assert Job.objects.count() == 1


def test_pause_resume_empty_clear_failed_commands(admin_client):
    services.enqueue("sidecar", "TestNoop")
    body = put(admin_client, "/api/jobs/sidecar", {"command": "pause"}).json()
    assert body["queueStatus"]["isPaused"] is True and body["jobCounts"]["paused"] == 1
    assert put(admin_client, "/api/jobs/sidecar", {"command": "resume"}).json()["queueStatus"]["isPaused"] is False
    assert put(admin_client, "/api/jobs/sidecar", {"command": "empty"}).json()["jobCounts"]["waiting"] == 0
    Job.objects.create(queue="sidecar", name="TestNoop", status=Job.FAILED)
    assert put(admin_client, "/api/jobs/sidecar", {"command": "clear-failed"}).json()["jobCounts"]["failed"] == 0


@pytest.mark.parametrize("body, message", [
    ({"command": "explode"}, "Unknown command “explode”"),
    ({}, "command must be one of start, pause, resume, empty, clear-failed"),
    ({"command": "start", "force": "yes"}, "force must be a boolean"),
])
def test_bad_commands_are_refused_with_a_reason(admin_client, body, message):
    response = put(admin_client, "/api/jobs/library", body)
    assert response.status_code == 400 and message in response.json()["message"]


def test_unknown_queue_names_and_unstartable_queues(admin_client):
    response = put(admin_client, "/api/jobs/nope", {"command": "start"})
    assert response.status_code == 400 and "Unknown queue “nope”" in response.json()["message"]
    response = put(admin_client, "/api/jobs/backgroundTask", {"command": "start"})
    assert response.status_code == 400 and "Invalid job name" in response.json()["message"]
    assert admin_client.get("/api/queues/nope").status_code == 400


def test_queues_list_one_queue_and_pause_through_put(admin_client):
    listed = admin_client.get("/api/queues").json()
    assert [queue["name"] for queue in listed] == [queue.name for queue in QUEUES]
    assert listed[0] == {"name": "thumbnailGeneration", "isPaused": False, "statistics": {
        "active": 0, "completed": 0, "failed": 0, "delayed": 0, "waiting": 0, "paused": 0}}

    assert put(admin_client, "/api/queues/library", {"isPaused": True}).json()["isPaused"] is True
    assert admin_client.get("/api/queues/library").json()["isPaused"] is True
    assert put(admin_client, "/api/queues/library", {"isPaused": False}).json()["isPaused"] is False


def test_pausing_background_tasks_is_refused(admin_client):
    response = put(admin_client, "/api/queues/backgroundTask", {"isPaused": True})
    assert response.status_code == 400
    assert response.json()["message"] == "The BackgroundTask queue cannot be paused"


def test_queue_jobs_listing_and_delete(admin_client):
    job = services.enqueue("library", "TestNoop", {"id": 7})
    Job.objects.create(queue="library", name="TestNoop", status=Job.FAILED)
    listed = admin_client.get("/api/queues/library/jobs?status=waiting").json()
    assert listed == [{"id": str(job.pk), "name": "TestNoop", "data": {"id": 7},
                       "timestamp": int(job.created_at.timestamp() * 1000)}]
    response = admin_client.delete("/api/queues/library/jobs", json.dumps({"failed": True}),
                                   content_type="application/json")
    assert response.status_code == 204 and not Job.objects.exists()


def test_the_api_is_for_administrators_only(client, user_client, user):
    for method, url in (("get", "/api/jobs"), ("put", "/api/jobs/library"), ("get", "/api/queues"),
                        ("put", "/api/queues/library"), ("get", "/api/queues/library/jobs")):
        assert getattr(client, method)(url).status_code == 401
        assert getattr(user_client, method)(url).status_code == 403
    _, secret = ApiKey.issue(user, "phone")
    assert put(Client(), "/api/queues/library", {"isPaused": True}, HTTP_X_API_KEY=secret).status_code == 403


def test_api_key_clients_need_no_csrf_but_browser_sessions_do(admin_user):
    _, secret = ApiKey.issue(admin_user, "script")
    assert put(Client(), "/api/jobs/library", {"command": "pause"}, HTTP_X_API_KEY=secret).status_code == 200
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert put(browser, "/api/jobs/library", {"command": "resume"}).status_code == 403
    assert services.queue_status("library").is_paused


def test_get_jobs_costs_the_same_queries_however_many_jobs(admin_client, django_assert_max_num_queries):
    from django.utils import timezone

    from jobs_app.models import Job

    Job.objects.bulk_create(Job(queue="metadataExtraction", name="AssetExtractMetadata", status=status,
                                finished_at=timezone.now()) for status in [Job.COMPLETED] * 500 + [Job.FAILED] * 7)
    for _ in range(3):
        services.enqueue("metadataExtraction", "AssetExtractMetadata")
    services.enqueue("metadataExtraction", "AssetExtractMetadata", delay=60)
    admin_client.get("/api/jobs")  # the settings are read once per process, not per request
    with django_assert_max_num_queries(10):
        body = admin_client.get("/api/jobs").json()
    assert body["metadataExtraction"]["jobCounts"] == {
        "active": 0, "completed": 500, "failed": 7, "delayed": 1, "waiting": 3, "paused": 0}
