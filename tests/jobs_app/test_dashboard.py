"""The Jobs dashboard: admin only, polls only while work is pending, commands with confirmation, the
no-worker banner, failed jobs with their error (as text) and a retry, schedules with the timezone."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from jobs_app import services
from jobs_app.models import Job, WorkerHeartbeat

pytestmark = pytest.mark.django_db
URL = "/admin/jobs/"


def panel(admin_client, htmx_headers) -> str:
    response = admin_client.get(URL, **htmx_headers)
    assert response.status_code == 200
    return response.content.decode()


def queue_card(html: str, name: str) -> str:
    return re.search(rf'<section class="queue-card[^"]*" id="queue-{name}".*?</section>', html, re.S).group(0)


def test_only_administrators_see_the_dashboard_or_run_commands(client, user_client):
    assert client.get(URL).status_code == 302
    assert user_client.get(URL).status_code == 403
    assert client.post(f"{URL}queues/library/pause/").status_code == 302
    assert user_client.post(f"{URL}queues/library/pause/").status_code == 403
    assert user_client.post(f"{URL}failed/1/retry/").status_code == 403
    assert not services.queue_status("library").is_paused


def test_page_lists_every_queue_with_counts_and_the_concurrency_link(admin_client):
    for _ in range(2):
        services.enqueue("library", "TestNoop")
    html = admin_client.get(URL).content.decode()
    assert "?isOpen=job" in html and "Manage concurrency" in html
    card = queue_card(html, "library")
    assert "External Libraries" in card and '<dd data-count="waiting">2</dd>' in card and "5 at a time" in card
    assert "1 at a time" in queue_card(html, "facialRecognition")


def test_polling_runs_while_work_is_pending_and_stops_when_idle(admin_client, htmx_headers):
    assert 'hx-trigger="every 2s' not in panel(admin_client, htmx_headers)
    assert "automatic refresh is paused" in panel(admin_client, htmx_headers)
    job = services.enqueue("library", "TestNoop")
    assert 'hx-trigger="every 2s' in panel(admin_client, htmx_headers)
    Job.objects.filter(pk=job.pk).update(status=Job.COMPLETED, finished_at=timezone.now())
    assert 'hx-trigger="every 2s' not in panel(admin_client, htmx_headers)


def test_banner_when_no_worker_is_alive(admin_client, htmx_headers):
    assert 'data-testid="no-worker-banner"' in panel(admin_client, htmx_headers)
    WorkerHeartbeat.objects.create(worker_id="host:1", hostname="host", pid=1, last_seen=timezone.now())
    html = panel(admin_client, htmx_headers)
    assert 'data-testid="no-worker-banner"' not in html and "host:1" in html
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=5))
    assert 'data-testid="no-worker-banner"' in panel(admin_client, htmx_headers)


def test_start_buttons_when_idle_and_pause_clear_when_busy(admin_client):
    card = queue_card(admin_client.get(URL).content.decode(), "faceDetection")
    assert [label for label in re.findall(r">(Reset|Refresh|Missing)</button>", card)] == ["Reset", "Refresh",
                                                                                             "Missing"]
    assert 'hx-confirm="Are you sure you want to reprocess all faces? This will also clear named people."' in card
    services.enqueue("faceDetection", "TestNoop")
    card = queue_card(admin_client.get(URL).content.decode(), "faceDetection")
    assert "Reset</button>" not in card and "Pause</button>" in card
    assert 'hx-confirm="Remove the 1 waiting job of Face Detection? Running jobs finish."' in card


def test_a_command_answers_with_the_refreshed_panel_and_a_message(admin_client, htmx_headers):
    response = admin_client.post(f"{URL}queues/thumbnailGeneration/start/", {"force": "true"}, **htmx_headers)
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="jobs-panel"')
    assert "Generate Thumbnails: All started." in html and 'hx-trigger="every 2s' in html
    assert Job.objects.get().data == {"force": True}

    html = admin_client.post(f"{URL}queues/thumbnailGeneration/start/", {"force": "false"},
                             **htmx_headers).content.decode()
    assert 'class="alert error"' in html and "Generate Thumbnails is already running" in html


def test_without_htmx_a_command_redirects_with_a_message(admin_client):
    response = admin_client.post(f"{URL}queues/library/pause/", follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "External Libraries: paused" in response.content.decode()


def test_disabled_features_show_a_disabled_start_button(admin_client, admin_user):
    from settings_app.services import save_values

    assert save_values({"machineLearning.enabled": False}, user=admin_user).ok
    card = queue_card(admin_client.get(URL).content.decode(), "smartSearch")
    assert "disabled>Disabled</button>" in card and "turn on Enable machine learning" in card


def test_failed_jobs_show_their_error_as_text_and_can_be_retried(admin_client, htmx_headers):
    job = Job.objects.create(queue="library", name="TestNoop", status=Job.FAILED, finished_at=timezone.now(),
                             error="Traceback … <script>alert(1)</script>")
    html = panel(admin_client, htmx_headers)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert f'hx-post="/admin/jobs/failed/{job.pk}/retry/"' in html
    card = queue_card(html, "library")
    assert "Retry 1 failed" in card and 'hx-confirm="Delete the 1 failed job of External Libraries' in card

    html = admin_client.post(f"{URL}failed/{job.pk}/retry/", **htmx_headers).content.decode()
    assert f"job TestNoop #{job.pk} queued again" in html
    assert Job.objects.get(pk=job.pk).status == Job.WAITING


def test_schedules_show_next_runs_and_the_server_timezone(admin_client, settings):
    html = admin_client.get(URL).content.decode()
    assert f"<strong>{settings.TIME_ZONE}</strong>" in html
    row = re.search(r'<tr id="schedule-backupDatabase">.*?</tr>', html, re.S).group(0)
    assert "<code>0 02 * * *</code>" in row and "?isOpen=backup" in row
    assert re.search(r"data-next-run>\d{4}-\d\d-\d\d 02:00<", row)


def test_commands_need_the_csrf_token(admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert browser.post(f"{URL}queues/library/pause/").status_code == 403
    page = browser.get(URL).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken":' in page


def test_stuck_jobs_are_counted_and_requeued_after_a_confirmation(admin_client, htmx_headers, client, user_client):
    assert 'data-testid="stuck-jobs"' not in panel(admin_client, htmx_headers)
    WorkerHeartbeat.objects.create(worker_id="live:1", hostname="live", pid=1, last_seen=timezone.now())
    live, stuck = services.enqueue("library", "TestNoop"), services.enqueue("library", "TestNoop")
    Job.objects.filter(pk=live.pk).update(status=Job.ACTIVE, claimed_by="live:1", claim_token="t")
    Job.objects.filter(pk=stuck.pk).update(status=Job.ACTIVE, claimed_by="gone-host:7", claim_token="t")

    banner = re.search(r'<div class="alert error" role="alert" data-testid="stuck-jobs">.*?</div>',
                       panel(admin_client, htmx_headers), re.S).group(0)
    assert "1 active job without a running worker" in banner
    assert 'hx-post="/admin/jobs/stuck/requeue/"' in banner and "csrfmiddlewaretoken" in banner
    assert 'hx-confirm="Queue the 1 stuck job again?' in banner
    assert 'data-confirm="Queue the 1 stuck job again?' in banner

    assert client.post(f"{URL}stuck/requeue/").status_code == 302  # to the login page
    assert user_client.post(f"{URL}stuck/requeue/").status_code == 403
    assert admin_client.get(f"{URL}stuck/requeue/").status_code == 405
    assert Job.objects.get(pk=stuck.pk).status == Job.ACTIVE

    html = admin_client.post(f"{URL}stuck/requeue/", **htmx_headers).content.decode()
    assert "1 stuck job queued again." in html and 'data-testid="stuck-jobs"' not in html
    assert Job.objects.get(pk=stuck.pk).status == Job.WAITING and Job.objects.get(pk=live.pk).status == Job.ACTIVE


def test_requeueing_stuck_jobs_needs_the_csrf_token(admin_user):
    job = services.enqueue("library", "TestNoop")
    Job.objects.filter(pk=job.pk).update(status=Job.ACTIVE, claimed_by="gone-host:7", claim_token="t")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert browser.post(f"{URL}stuck/requeue/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == Job.ACTIVE


def test_running_jobs_show_the_progress_their_handler_reports(admin_client, htmx_headers):
    job = services.enqueue("videoConversion", "AssetEncodeVideo", {"id": "abc"})
    Job.objects.filter(pk=job.pk).update(status=Job.ACTIVE, claim_token="t1")
    job.refresh_from_db()
    services.report_progress(job, 42)
    card = queue_card(panel(admin_client, htmx_headers), "videoConversion")
    assert "AssetEncodeVideo abc" in card and "42%" in card and 'aria-valuenow="42"' in card
    # A stale claim (the job was taken over) cannot report.
    job.claim_token = "old"
    services.report_progress(job, 99)
    assert Job.objects.get(pk=job.pk).progress == 42
    Job.objects.filter(pk=job.pk).update(status=Job.COMPLETED)
    assert "AssetEncodeVideo abc" not in queue_card(panel(admin_client, htmx_headers), "videoConversion")


def test_the_dashboard_costs_the_same_queries_however_many_jobs(admin_client, django_assert_max_num_queries):
    from django.utils import timezone

    from jobs_app.models import Job

    def seed(count):
        now = timezone.now()
        Job.objects.bulk_create(
            Job(queue="thumbnailGeneration", name="AssetGenerateThumbnails", status=status, finished_at=now,
                error="boom" if status == Job.FAILED else "")
            for index in range(count) for status in (Job.COMPLETED, Job.FAILED))

    seed(1)
    admin_client.get("/admin/jobs/")  # the settings are read once per process, not per page
    with django_assert_max_num_queries(20):
        assert admin_client.get("/admin/jobs/").status_code == 200
    seed(200)
    with django_assert_max_num_queries(20):
        html = admin_client.get("/admin/jobs/").content.decode()
    assert "boom" in html
    assert '<dd data-count="failed">201</dd>' in html  # the thumbnail queue's count, from its counter
