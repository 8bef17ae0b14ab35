"""Real-time HLS in a real chromium: with ffmpeg.realtime.enabled the asset page plays the video through the
vendored hls.js (preferred to chromium's own HLS; segments made on demand by ffmpeg) under the site's
Content-Security-Policy: a picture (videoWidth > 0) and advancing time; leaving the page ends the session. A
refused session falls back to the playback URL."""

import time

import pytest
from playwright.sync_api import Page

from media_app.services import hls
from settings_app.services import refresh_config, save_values
from tests.browser.test_photos import log_in
from tests.media_app.photo_assets import VIDEOS, add_asset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_asset_page_plays_the_video_through_hls_js(page: Page, live_server, user, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    result = save_values({"ffmpeg.realtime.enabled": True, "ffmpeg.realtime.videoCodecs": ["h264"],
                          "ffmpeg.realtime.resolutions": [480]}, user=admin_user)
    assert result.ok, result.errors
    refresh_config()
    asset = add_asset(user, VIDEOS / "h264_aac_640x360_3s.mp4")
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/photos/{asset.id}/")
    page.wait_for_function("() => document.querySelector('video').dataset.player === 'hls.js'", timeout=10000)
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 1", timeout=30000)
    state = page.evaluate("() => { const v = document.querySelector('video');"
                          " return [v.videoWidth, v.videoHeight, v.currentSrc.startsWith('blob:')]; }")
    assert state == [640, 360, True]  # streamed by MediaSource (hls.js), at the clip's own resolution
    sessions = [folder for folder in hls.root().iterdir() if folder.is_dir()]
    assert len(sessions) == 1 and (sessions[0] / "h264-360" / "segment-00000.m4s").is_file()
    assert violations == []

    page.goto(f"{live_server.url}/photos/")  # leaving the page ends the session (DELETE with the CSRF token)
    deadline = time.monotonic() + 10
    while sessions[0].exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sessions[0].exists()


def test_a_refused_session_falls_back_to_the_playback_url(page: Page, live_server, user, admin_user, settings,
                                                          tmp_path):
    """Real-time transcoding turned off between the page and its player's first request: the server refuses
    the session (403) and the video plays from /video/playback instead."""
    settings.MEDIA_ROOT = tmp_path / "media"
    assert save_values({"ffmpeg.realtime.enabled": True}, user=admin_user).ok
    refresh_config()
    asset = add_asset(user, VIDEOS / "h264_aac_640x360_3s.mp4")
    refused = []

    def disable_then_continue(route):
        assert save_values({"ffmpeg.realtime.enabled": False}, user=admin_user).ok
        refresh_config()
        response = route.fetch()
        refused.append(response.status)
        route.fulfill(response=response)

    page.route("**/video/hls/master.m3u8", disable_then_continue)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/photos/{asset.id}/")
    page.wait_for_function("() => document.querySelector('video').dataset.player === 'playback'", timeout=15000)
    assert refused == [403]
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=20000)
    src = page.evaluate("() => document.querySelector('video').currentSrc")
    assert src == f"{live_server.url}/api/assets/{asset.id}/video/playback"
    assert not hls.root().exists() or not any(hls.root().iterdir())
