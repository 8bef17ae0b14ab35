"""A transcoded HEVC clip plays in a real chromium: the asset page's <video> gets a picture (videoWidth > 0)
and its time advances. HEVC itself gives sound without picture in Chromium; the H.264 MP4 plays."""

import pytest
from playwright.sync_api import Page

from media_app.services import transcode
from tests.browser.test_photos import log_in
from tests.media_app.photo_assets import VIDEOS, add_asset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_transcoded_hevc_plays_in_chromium(page: Page, live_server, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    asset = add_asset(user, VIDEOS / "hevc_aac_640x360_3s.mov")
    transcode.transcode_asset(asset.id)
    asset.refresh_from_db()
    assert asset.encoded_video_path

    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/photos/{asset.id}/")
    video = page.locator("video")
    assert video.get_attribute("src") == f"/api/assets/{asset.id}/video/playback"
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=20000)
    size = page.evaluate("() => { const v = document.querySelector('video'); return [v.videoWidth, v.videoHeight]; }")
    assert size == [640, 360]
