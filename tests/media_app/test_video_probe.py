"""Probe data as ffprobe names it, on the test videos and on an AVI (MPEG-4 Part 2 + MP3) made here."""

import pytest

from media_app.services import metadata, video_probe
from media_app.services.ffmpeg import run

from .conftest import VIDEO_ROWS, VIDEOS


@pytest.fixture(scope="module")
def avi_mp3(tmp_path_factory):
    path = tmp_path_factory.mktemp("avi") / "mpeg4_mp3.avi"
    run(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
         "-c:v", "mpeg4", "-c:a", "libmp3lame", str(path)])
    return path


@pytest.mark.parametrize("row", VIDEO_ROWS, ids=lambda row: row["file"])
def test_probe_matches_ffprobe(row):
    probe = video_probe.probe(VIDEOS / row["file"])
    assert probe.format_name == row["container"]
    assert probe.video.codec == row["video_codec"]
    assert probe.video.pix_fmt == row["pix_fmt"]
    assert (probe.video.width, probe.video.height) == (int(row["coded_width"]), int(row["coded_height"]))
    assert probe.video.rotation == int(row["ffprobe_displaymatrix_rotation"] or 0)
    assert probe.video.color_transfer == row["color_transfer"]
    assert (probe.audio.codec if probe.audio else "") == row["audio_codec"]
    assert probe.duration == pytest.approx(float(row["duration_s"]), abs=0.05)


def test_container_names_follow_immich():
    assert video_probe.probe(VIDEOS / "h264_aac_640x360_3s.mp4").container == "mov"  # QuickTime / MOV
    assert video_probe.probe(VIDEOS / "vp9_opus_640x360_3s.webm").container == "webm"


def test_mp3_is_stored_as_mp3_not_the_decoder_name(avi_mp3):
    meta = metadata.read_video(avi_mp3)
    assert (meta.video_codec, meta.audio_codec, meta.video_container) == ("mpeg4", "mp3", "avi")


def test_video_asset_stores_what_the_transcode_decision_needs(make_asset):
    asset = metadata.extract_asset(make_asset(VIDEOS / "hevc_10bit_hdr10_pq_1280x720_2s.mp4").id)
    assert (asset.video_codec, asset.audio_codec) == ("hevc", "")
    assert (asset.video_pixel_format, asset.video_color_transfer, asset.video_container) == (
        "yuv420p10le", "smpte2084", "mov")
    assert asset.video_bitrate > 1_000_000
