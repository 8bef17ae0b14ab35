""""Test transcode" on the Video Transcoding settings page: the decision, its reasons and the exact command
for the form's unsaved values, an optional run on the first seconds, clear errors; nothing saved."""

import pytest

from media_app.services import metadata
from settings_app.forms import CATEGORY_FORMS
from settings_app.services import get_config

from .conftest import VIDEOS

pytestmark = pytest.mark.django_db
PANEL, RUN = "/admin/video-transcoding/test/", "/admin/video-transcoding/test/run/"


def form_data(**overrides) -> dict:
    """The Video Transcoding form as the browser submits it, with the saved values, plus overrides."""
    form_class = CATEGORY_FORMS["video-transcoding"]
    config = get_config()
    data = {}
    for key in form_class.category.keys:
        value = config.get(key.path)
        if value is False:
            continue  # unchecked boxes are not submitted
        data[key.column] = [str(item) for item in value] if isinstance(value, list) else (
            "on" if value is True else str(value))
    data.update(overrides)
    return data


@pytest.fixture
def hevc(make_asset):
    return metadata.extract_asset(make_asset(VIDEOS / "hevc_aac_640x360_3s.mov").id)


def test_the_settings_page_loads_the_panel_listing_videos(admin_client, hevc):
    page = admin_client.get("/admin/system-settings/video-transcoding/").content.decode()
    assert 'hx-get="/admin/video-transcoding/test/"' in page
    panel = admin_client.get(PANEL).content.decode()
    assert f'<option value="{hevc.id}">hevc_aac_640x360_3s.mov' in panel and "Test transcode" in panel


def test_shows_decision_reasons_and_the_exact_command_of_unsaved_settings(admin_client, hevc):
    html = admin_client.post(RUN, form_data(transcode_test_asset=str(hevc.id), ffmpeg_crf="31",
                                            ffmpeg_target_resolution="480")).content.decode()
    assert "video re-encode (audio copied)" in html
    assert "video codec hevc is not accepted (h264)" in html
    assert "-c:v libx264 -c:a copy" in html and "-crf 31" in html and str(hevc.original_path) in html
    assert "-vf" not in html  # 360p needs no scaling to 480
    assert get_config().ffmpeg.crf == 23  # nothing saved


def test_accepted_video_says_why_it_is_left_alone(admin_client, hevc):
    html = admin_client.post(RUN, form_data(transcode_test_asset=str(hevc.id),
                                            ffmpeg_accepted_video_codecs=["h264", "hevc"])).content.decode()
    assert "not transcoded" in html and "is accepted under the required policy" in html


def test_run_on_the_first_seconds_reports_the_result(admin_client, hevc):
    html = admin_client.post(RUN, form_data(transcode_test_asset=str(hevc.id), transcode_test_run="1")).content.decode()
    assert "Ran with software: 3 s encoded in" in html and "h264 640×360, aac" in html


def test_fallbacks_and_unsupported_accel_are_shown(admin_client, hevc):
    html = admin_client.post(RUN, form_data(transcode_test_asset=str(hevc.id), ffmpeg_accel="rkmpp",
                                            ffmpeg_target_video_codec="vp9")).content.decode()
    assert "RKMPP acceleration does not support the video codec VP9" in html
    assert "Fallback 2 — software" in html and "libvpx-vp9" in html


def test_bad_input_is_named(admin_client, hevc):
    html = admin_client.post(RUN, form_data(transcode_test_asset="nope", ffmpeg_crf="99")).content.decode()
    assert "Pick a video to test." in html and "Constant rate factor (-crf):" in html


def test_only_admins(user_client, hevc):
    assert user_client.get(PANEL).status_code == 403
    assert user_client.post(RUN, {"transcode_test_asset": str(hevc.id)}).status_code == 403
