"""The version check against a real release feed on 127.0.0.1 (GitHub releases-API shape): the channel
decides which release counts, the result is stored and served, administrators see the notice until they
dismiss it, nothing is fetched when disabled, and bad answers become "could not check"."""

import json
import logging
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone

from jobs_app.handlers import get_handler
from jobs_app.models import Job, JobsMetadata
from settings_app import version_check
from settings_app.services import get_config, refresh_config, save_values
from settings_app.version_check import SemVer

pytestmark = pytest.mark.django_db

RELEASES = [
    {"tag_name": "v0.3.0-rc.1", "prerelease": True, "draft": False,
     "html_url": "https://example.org/releases/v0.3.0-rc.1"},
    {"tag_name": "v9.0.0", "prerelease": False, "draft": True, "html_url": "https://example.org/releases/v9.0.0"},
    {"tag_name": "v0.2.0", "prerelease": False, "draft": False, "html_url": "https://example.org/releases/v0.2.0"},
    {"tag_name": "v0.1.5", "prerelease": False, "draft": False, "html_url": "https://example.org/releases/v0.1.5"},
    {"tag_name": "nightly", "prerelease": False, "draft": False, "html_url": "https://example.org/nightly"},
]


class ReleaseFeed:
    """A local HTTP server speaking the feed's protocol; `mode` picks a good or a broken answer. Counts
    every TCP connection it accepts, so a test can prove none was made."""

    def __init__(self):
        self.mode, self.connections, self.paths = "releases", 0, []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                feed.paths.append(self.path)
                if feed.mode == "hang":
                    time.sleep(3)
                    return
                if feed.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data")
                    self.end_headers()
                    return
                status, body = {
                    "releases": (200, json.dumps(RELEASES).encode()),
                    "html": (200, b"<html>maintenance</html>"),
                    "huge": (200, b"[" + b"{}," * 600_000 + b"{}]"),
                    "object": (200, b'{"message": "API rate limit exceeded"}'),
                    "error": (500, b"oops"),
                }[feed.mode]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                feed.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/repos/photoserver/photoserver/releases"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed(monkeypatch):
    server = ReleaseFeed()
    monkeypatch.setenv("VERSION_CHECK_URL", server.url)
    monkeypatch.setenv("VERSION_CHECK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("VERSION_CHECK_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setattr(version_check, "project_version", lambda: "0.1.0")
    yield server
    server.close()


def run_check(now=None) -> str:
    handler = get_handler("VersionCheck")
    assert handler is not None and not handler.placeholder
    if now is not None:
        return version_check.run_check(now=now)
    return handler.func(Job(queue="backgroundTask", name="VersionCheck", data={}))


def later(minutes: int):
    return timezone.now() + timedelta(minutes=minutes)


def test_semantic_version_order():
    ordered = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "v2.0.0"]
    parsed = [SemVer.parse(text) for text in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert SemVer.parse("nightly") is None and SemVer.parse("1.2") is None
    assert SemVer.parse("v1.2.3-rc.4").as_immich() == {"major": 1, "minor": 2, "patch": 3, "prerelease": 4}


def test_stable_channel_ignores_pre_releases_and_drafts(feed, admin_client):
    outcome = run_check()
    assert "newest release 0.2.0" in outcome
    assert feed.paths and "channel=stable" in feed.paths[0]
    response = admin_client.get("/api/server/version-check")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"checkedAt", "releaseVersion"} and body["releaseVersion"] == "0.2.0"
    assert body["checkedAt"]


def test_release_candidate_channel_counts_pre_releases(feed, admin_user, admin_client):
    save_values({"newVersionCheck.channel": "releaseCandidate"}, user=admin_user)
    assert "newest release 0.3.0-rc.1" in run_check()
    assert "channel=rc" in feed.paths[-1]
    assert admin_client.get("/api/server/version-check").json()["releaseVersion"] == "0.3.0-rc.1"
    page = admin_client.get("/admin/system-settings/").content.decode()
    assert "Version 0.3.0-rc.1 is available." in page
    assert 'href="https://example.org/releases/v0.3.0-rc.1"' in page


def test_no_notice_when_the_running_version_is_the_newest(feed, admin_client, monkeypatch):
    monkeypatch.setattr(version_check, "project_version", lambda: "0.2.0")
    run_check()
    page = admin_client.get("/admin/system-settings/").content.decode()
    assert "is available" not in page
    assert "up to date (newest release 0.2.0)" in admin_client.get(
        "/admin/system-settings/version-check/").content.decode()


def test_administrators_see_the_notice_until_they_dismiss_that_version(feed, admin_client, other_admin,
                                                                       user_client):
    run_check()
    page = admin_client.get("/photos/").content.decode()
    assert "Version 0.2.0 is available." in page
    assert 'href="https://example.org/releases/v0.2.0"' in page
    assert "is available" not in user_client.get("/photos/").content.decode()

    response = admin_client.post("/admin/system-settings/version-notice/dismiss/",
                                 {"version": "0.2.0", "next": "/photos/"})
    assert response.status_code == 302 and response["Location"] == "/photos/"
    assert "is available" not in admin_client.get("/photos/").content.decode()
    other = Client()
    other.force_login(other_admin)
    assert "Version 0.2.0 is available." in other.get("/photos/").content.decode()  # dismissed per admin

    RELEASES.insert(0, {"tag_name": "v0.2.1", "prerelease": False, "draft": False,
                        "html_url": "https://example.org/releases/v0.2.1"})
    try:
        run_check(now=later(61))
    finally:
        RELEASES.pop(0)
    assert "Version 0.2.1 is available." in admin_client.get("/photos/").content.decode()


def test_dismiss_refuses_an_outside_next_and_a_missing_version(feed, admin_client):
    run_check()
    response = admin_client.post("/admin/system-settings/version-notice/dismiss/",
                                 {"version": "0.2.0", "next": "https://evil.example/"})
    assert response["Location"] == "/admin/system-settings/"
    assert admin_client.post("/admin/system-settings/version-notice/dismiss/", {}).status_code == 400


def test_disabled_check_makes_no_connection(feed, admin_user, admin_client):
    save_values({"newVersionCheck.enabled": False}, user=admin_user)
    assert run_check() == "version check disabled"
    assert run_check(now=later(120)) == "version check disabled"
    assert feed.connections == 0
    assert admin_client.get("/api/server/version-check").json() == {"checkedAt": None, "releaseVersion": None}


def test_disabling_hides_a_stored_notice(feed, admin_user, admin_client):
    run_check()
    save_values({"newVersionCheck.enabled": False}, user=admin_user)
    assert "is available" not in admin_client.get("/photos/").content.decode()


def test_switching_it_on_queues_a_check_at_once(feed, admin_user):
    save_values({"newVersionCheck.enabled": False}, user=admin_user)
    refresh_config()
    assert not Job.objects.filter(name="VersionCheck").exists()
    save_values({"newVersionCheck.enabled": True}, user=admin_user)
    refresh_config()
    assert get_config().newVersionCheck.enabled
    job = Job.objects.get(name="VersionCheck")
    assert job.queue == "backgroundTask" and job.status in Job.PENDING


def test_checks_closer_than_50_seconds_are_skipped(feed):
    now = timezone.now()
    run_check(now=now)
    assert run_check(now=now + timedelta(seconds=49)) == "version check skipped: checked less than 50 s ago"
    assert feed.connections == 1
    assert "newest release" in run_check(now=now + timedelta(seconds=51))
    assert feed.connections == 2


@pytest.mark.parametrize(("mode", "reason"), [
    ("html", "did not answer with JSON"),
    ("object", "did not answer with a list of releases"),
    ("huge", "more than 1048576 bytes"),
    ("redirect", "redirects to http://169.254.169.254/latest/meta-data"),
    ("hang", "did not answer within 0.5 s"),
    ("error", "answered HTTP 500"),
])
def test_bad_answers_are_could_not_check_logged_once(feed, admin_client, caplog, mode, reason):
    feed.mode = mode
    with caplog.at_level(logging.WARNING, logger="settings_app.version_check"):
        first = run_check()
        second = run_check(now=later(61))
    assert first.startswith("version check: could not check") and reason in first
    assert reason in second
    warnings = [record for record in caplog.records if record.name == "settings_app.version_check"]
    assert len(warnings) == 1 and reason in warnings[0].getMessage()
    assert admin_client.get("/api/server/version-check").json()["releaseVersion"] is None
    page = admin_client.get("/admin/system-settings/version-check/").content.decode()
    assert "could not check" in page and reason in page


def test_an_unreachable_feed_is_could_not_check(feed, monkeypatch):
    feed.close()
    assert "could not be reached" in run_check()


def test_internal_addresses_are_refused_unless_allowed(feed, monkeypatch):
    monkeypatch.delenv("VERSION_CHECK_ALLOW_PRIVATE")
    outcome = run_check()
    assert "internal address (127.0.0.1)" in outcome and "VERSION_CHECK_ALLOW_PRIVATE" in outcome
    assert feed.connections == 0
    state = JobsMetadata.objects.get(key="version-check-state").value
    assert state["releaseVersion"] is None and "internal address" in state["error"]


def test_version_history_lists_the_running_version(feed, admin_client, monkeypatch):
    run_check()
    monkeypatch.setattr(version_check, "project_version", lambda: "0.2.0")
    run_check(now=later(2))
    history = admin_client.get("/api/server/version-history").json()
    assert [entry["version"] for entry in history][:2] == ["0.2.0", "0.1.0"]
    assert set(history[0]) == {"id", "createdAt", "version"}


def test_version_endpoints_are_for_administrators(user_client):
    assert user_client.get("/api/server/version-check").status_code == 403
    assert Client().get("/api/server/version-history").status_code == 401
