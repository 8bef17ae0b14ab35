"""The Jobs dashboard in a real chromium: live counts from a real worker, polling that stops when idle,
pause and a confirmed clear through htmx."""

import re

import pytest
from playwright.sync_api import Page, expect

from jobs_app import services
from jobs_app.models import Job
from tests.conftest import ADMIN_PASSWORD

from .conftest import enqueue_probes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_dashboard(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/login/?next=/admin/jobs/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page).to_have_url(re.compile(r"/admin/jobs/$"))


def test_counts_follow_a_real_worker_and_polling_stops_when_idle(page: Page, live_server, admin_user,
                                                                 start_worker, probe_log):
    enqueue_probes(probe_log, 9, seconds=2.5)  # rounds longer than the 2 s poll: each is seen
    open_dashboard(page, live_server, admin_user)
    card = page.locator("#queue-thumbnailGeneration")
    expect(page.locator("#jobs-panel")).to_have_attribute("data-polling", "true")
    expect(page.get_by_test_id("no-worker-banner")).to_be_visible()

    start_worker()
    expect(page.get_by_test_id("no-worker-banner")).to_be_hidden(timeout=5000)
    expect(card.locator('[data-count="active"]')).to_have_text("3", timeout=5000)  # Immich's default limit
    expect(card.locator('[data-count="waiting"]')).to_have_text("0", timeout=15000)
    expect(card.locator('[data-count="active"]')).to_have_text("0", timeout=5000)
    expect(page.locator("#jobs-panel")).to_have_attribute("data-polling", "false", timeout=5000)
    expect(card.locator("figcaption")).to_have_text("9 in 15 min")


def test_pause_then_clear_waiting_after_confirming(page: Page, live_server, admin_user):
    for _ in range(3):
        services.enqueue("library", "TestNoop")
    open_dashboard(page, live_server, admin_user)
    card = page.locator("#queue-library")

    card.get_by_role("button", name="Pause").click()
    expect(card.locator(".badge.paused")).to_have_text("Paused")
    expect(page.get_by_role("status")).to_contain_text("External Libraries: paused")
    assert services.queue_status("library").is_paused

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    card.get_by_role("button", name="Clear waiting").click()
    expect(page.get_by_role("status")).to_contain_text("removed 3 waiting jobs")
    assert dialogs == ["Remove the 3 waiting jobs of External Libraries? Running jobs finish."]
    assert not Job.objects.exists()
    expect(card.get_by_role("button", name="Resume")).to_be_visible()
