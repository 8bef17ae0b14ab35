"""The server's ML client against real services on 127.0.0.1: URL order and failover, availability checks,
ML queues held while no URL answers (jobs wait, never dropped) and released when the service is back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs_app import engine, runner
from jobs_app.models import Job, QueueState
from jobs_app.services import enqueue, held_queues, queue_status
from ml_client import client as ml_client
from people_app.models import Face
from tests.media_app.photo_assets import add_asset
from tests.ml_service import conftest as ml_conftest
from tests.ml_service.faces_data import FACES

pytestmark = pytest.mark.django_db(transaction=True)
FACES_ENTRIES = {"facial-recognition": {"detection": {"modelName": "bundled-mtcnn-facenet"},
                                        "recognition": {"modelName": "bundled-mtcnn-facenet"}}}


def dead_url() -> str:
    return f"http://127.0.0.1:{ml_conftest.free_port()}"  # nothing listens there


def test_a_dead_first_url_is_skipped_and_marked_unhealthy(use_ml, ml_service):
    dead = dead_url()
    use_ml(dead, ml_service.url)
    answer = ml_client.predict(FACES_ENTRIES, image=(FACES / "obama_small.jpg").read_bytes())
    assert len(answer["facial-recognition"]) == 1 and answer["imageWidth"] == 320
    assert ml_client._health[dead].healthy is False and ml_client._health[ml_service.url].healthy is True
    assert ml_client._ordered_urls(ml_client.get_config().machineLearning) == [ml_service.url, dead]


def test_without_checks_a_failing_url_is_still_tried_in_order(use_ml, ml_service):
    dead = dead_url()
    use_ml(dead, ml_service.url, enabled=False)
    answer = ml_client.predict(FACES_ENTRIES, image=(FACES / "obama_small.jpg").read_bytes())
    assert answer["imageHeight"] == 240
    assert ml_client._health[dead].healthy is False  # the request failed; the order stays as configured


def test_an_error_answer_fails_with_the_services_message(use_ml):
    with pytest.raises(ml_client.MachineLearningError, match="422"):
        ml_client.predict({"no-such-task": {}}, image=b"x")
    assert held_queues() == {}


def test_the_test_button_pings_each_url(use_ml, ml_service, admin_client):
    dead = dead_url()
    results = ml_client.check_urls([ml_service.url, dead], 2000)
    assert results[0] == (ml_service.url, True, "pong")
    assert results[1][0] == dead and results[1][1] is False and "no answer" in results[1][2]


def run_one(queue: str = "faceDetection"):
    """Run the next probe job, as once the probe interval has passed (for the hold and the jobs' back-off)."""
    a_second_ago = timezone.now() - timedelta(seconds=1)
    QueueState.objects.filter(pk=queue).update(hold_probe_at=a_second_ago)
    Job.objects.filter(queue=queue, status=Job.WAITING).update(run_at=a_second_ago)
    (claim,) = engine.claim_ready([queue], "test:1")[:1]
    return runner.run_job(claim.job_id, claim.token)


def test_ml_down_holds_the_queue_then_jobs_complete_when_it_is_back(use_ml, media_root, monkeypatch, tmp_path,
                                                                     user):
    port = ml_conftest.free_port()
    url = f"http://127.0.0.1:{port}"
    use_ml(url, interval=1000, timeout=500)
    assets = [add_asset(user, FACES / name) for name in ("obama_small.jpg", "Family1-Dad1.jpg")]
    for asset in assets:
        enqueue("faceDetection", "AssetDetectFaces", {"id": str(asset.pk)})

    (claim, *_) = engine.claim_ready(["faceDetection"], "test:1")
    outcome = runner.run_job(claim.job_id, claim.token)
    assert outcome == f"waiting: waiting for machine learning at {url}"
    assert held_queues() == {"faceDetection": f"waiting for machine learning at {url}",
                             "smartSearch": f"waiting for machine learning at {url}",
                             "ocr": f"waiting for machine learning at {url}"}
    assert queue_status("faceDetection").hold_reason.endswith(url)
    engine.release_worker("test:1")  # the second claimed job, not run in this test
    assert Job.objects.filter(status=Job.WAITING).count() == 2 and not Job.objects.filter(status=Job.FAILED)
    assert engine.claim_ready(["faceDetection"], "test:1") == []  # held: nothing until the next probe

    assert run_one() == f"waiting: waiting for machine learning at {url}"  # a probe, still down

    monkeypatch.setattr(ml_conftest, "free_port", lambda: port)
    service = ml_conftest.start_service(tmp_path, ["-m", "ml_service"])
    try:
        ml_client.forget_health()  # the next check (1 s interval) would see it too
        assert run_one().startswith("faces of ")
        assert held_queues() == {}
        (claim,) = engine.claim_ready(["faceDetection"], "test:1")
        assert runner.run_job(claim.job_id, claim.token).startswith("faces of ")
    finally:
        ml_conftest.stop_service(service)
    assert Job.objects.filter(queue="faceDetection", status=Job.COMPLETED).count() == 2
    assert Face.objects.filter(asset__in=assets).count() == 2



def test_the_settings_test_button_shows_each_urls_ping(use_ml, ml_service, admin_client, user_client):
    page = admin_client.get("/admin/system-settings/machine-learning/").content.decode()
    assert "/admin/machine-learning/settings-extra" in page
    assert "Test</button>" in admin_client.get("/admin/machine-learning/settings-extra").content.decode()
    dead = dead_url()
    body = admin_client.post("/admin/machine-learning/test", {"machine_learning_urls": f"{ml_service.url}\n{dead}"})
    text = body.content.decode()
    assert f"<code>{ml_service.url}</code>:\n      answers (pong)" in text
    assert f"<code>{dead}</code>:" in text and "no answer" in text
    refused = admin_client.post("/admin/machine-learning/test", {"machine_learning_urls": "ftp://x\nhttp://"})
    assert "“ftp://x” is not a valid http(s) URL." in refused.content.decode()
    assert user_client.post("/admin/machine-learning/test", {}).status_code in (302, 403)
