"""Real-time HLS with the real bundled ffmpeg: the master playlist offers the configured codecs and
resolutions (none above the video's), a variant's playlist and segments are produced and decodable, disabled
refuses new sessions, ending a session (idle, nightly or by its watchdog) kills ffmpeg and removes the folder,
and only the owner reaches any of it."""

import os
import re
import time
from pathlib import Path

import av
import pytest
from django.test import Client

from jobs_app.handlers import get_handler
from jobs_app.models import Job
from media_app.services import ffmpeg, hls, metadata
from tests.conftest import USER_PASSWORD

from .conftest import VIDEOS

SMALL = VIDEOS / "h264_aac_640x360_3s.mp4"
FULL_HD = VIDEOS / "h264_aac_1920x1080_60fps_2s_gps.mp4"
ROTATED = VIDEOS / "h264_aac_640x360_3s_rotate90cw.mp4"
HEVC = VIDEOS / "hevc_aac_640x360_3s.mov"
HDR = VIDEOS / "hevc_10bit_hdr10_pq_1280x720_2s.mp4"


@pytest.fixture
def realtime(save_settings):
    def configure(**values):
        save_settings("ffmpeg.realtime", **values)

    configure(enabled=True, videoCodecs=["h264"], resolutions=[480, 720, 1080])
    return configure


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """20 s of 720p (made here, not vendored): long enough that its encode is still running when ended."""
    path = tmp_path_factory.mktemp("hls") / "testsrc_720p_20s.mp4"
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=20", "-f", "lavfi",
                "-i", "sine=duration=20", "-c:v", "mpeg4", "-q:v", "10", "-c:a", "aac", str(path)])
    return path


@pytest.fixture
def video(make_asset):
    return lambda path: metadata.extract_asset(make_asset(path).id)


def master_url(asset) -> str:
    return f"/api/assets/{asset.id}/video/hls/master.m3u8"


def stream_uris(master: str) -> list[tuple[str, str]]:
    """(STREAM-INF attributes, URI) pairs."""
    lines = master.splitlines()
    return [(line, lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]


def ffmpeg_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    time.sleep(0.1)  # the watchdog thread reaps it
                    continue
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_master_playlist_offers_configured_codecs_and_resolutions_not_above_the_video(
        user_client, realtime, video):
    realtime(videoCodecs=["h264", "hevc"], resolutions=[480, 720, 1080, 1440])
    asset = video(FULL_HD)
    response = user_client.get(master_url(asset))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response["Cache-Control"] == "no-store"
    streams = stream_uris(response.content.decode())
    resolutions = [re.search(r"RESOLUTION=(\d+x\d+)", info)[1] for info, _uri in streams]
    codecs = [re.search(r'CODECS="([^"]+)"', info)[1] for info, _uri in streams]
    assert resolutions == ["854x480", "1280x720", "1920x1080"] * 2  # 1440 is above the video: not offered
    assert codecs == ["avc1.640029,mp4a.40.2"] * 3 + ["hvc1.1.6.L123.B0,mp4a.40.2"] * 3
    session_id = streams[0][1].split("/")[0]
    assert [uri for _info, uri in streams] == [f"{session_id}/{name}/playlist.m3u8" for name in (
        "h264-480", "h264-720", "h264-1080", "hevc-480", "hevc-720", "hevc-1080")]
    assert (hls.root() / session_id / hls.SESSION_FILE).is_file()


def test_small_and_portrait_videos_are_offered_at_their_own_resolution(user_client, realtime, video):
    small = stream_uris(user_client.get(master_url(video(SMALL))).content.decode())
    assert [(re.search(r"RESOLUTION=(\S+?),", info)[1], uri.split("/")[1]) for info, uri in small] == [
        ("640x360", "h264-360")]
    rotated = stream_uris(user_client.get(master_url(video(ROTATED))).content.decode())
    assert [(re.search(r"RESOLUTION=(\S+?),", info)[1], uri.split("/")[1]) for info, uri in rotated] == [
        ("360x640", "h264-360")]  # resolutions name the short side: 480 is above this portrait video


def test_media_playlist_and_segments_are_produced_and_decodable(user_client, realtime, video, tmp_path):
    asset = video(SMALL)
    (_info, uri), = stream_uris(user_client.get(master_url(asset)).content.decode())
    base = f"/api/assets/{asset.id}/video/hls/"
    playlist = user_client.get(base + uri)
    assert playlist.status_code == 200
    assert playlist["Content-Type"] == "application/vnd.apple.mpegurl"
    text = playlist.content.decode()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and '#EXT-X-MAP:URI="init.mp4"' in text
    first = next(line for line in text.splitlines() if line and not line.startswith("#"))
    assert first == "segment-00000.m4s"

    variant_base = base + uri.rsplit("/", 1)[0] + "/"
    init = user_client.get(variant_base + "init.mp4")
    segment = user_client.get(variant_base + first)
    assert (init.status_code, init["Content-Type"]) == (200, "video/mp4")
    assert (segment.status_code, segment["Content-Type"]) == (200, "video/iso.segment")
    joined = tmp_path / "first.mp4"
    joined.write_bytes(init.content + segment.content)
    with av.open(str(joined)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height) == (
            "h264", 640, 360)
        assert container.streams.audio[0].codec_context.name == "aac"
        frames = sum(1 for _ in container.decode(stream))
    assert frames >= 30  # about 2 s of the 30 fps clip

    # ffmpeg finishes the 3 s clip: the playlist is closed
    deadline = time.monotonic() + 20
    while "#EXT-X-ENDLIST" not in text and time.monotonic() < deadline:
        time.sleep(0.2)
        text = user_client.get(base + uri).content.decode()
    assert "#EXT-X-ENDLIST" in text

    missing = user_client.get(variant_base + "segment-00099.m4s")
    assert missing.status_code == 404 and "segment-00099.m4s" in missing.json()["message"]
    for bad in ("..%2Fsession.json", "ffmpeg.log", "playlist.m3u8.tmp"):
        assert user_client.get(variant_base + bad).status_code == 404
    hls.end_session(hls.root() / uri.split("/")[0])


def test_asset_page_offers_hls_only_when_enabled(user_client, realtime, video):
    asset = video(SMALL)
    html = user_client.get(f"/photos/{asset.id}/").content.decode()
    assert f'src="/api/assets/{asset.id}/video/playback" data-hls-src="{master_url(asset)}"' in html
    assert "vendor/hls.js-1.7.4/hls.min.js" in html and "js/video-hls.js" in html
    realtime(enabled=False)
    html = user_client.get(f"/photos/{asset.id}/").content.decode()
    assert "data-hls-src" not in html and "hls.min.js" not in html


@pytest.mark.parametrize(("clip", "codecs", "expected"), [
    (SMALL, ["hevc"], ("hevc", 640, 360, "yuv420p", "hvc1")),
    (ROTATED, ["h264"], ("h264", 360, 640, "yuv420p", "avc1")),  # turned upright, as displayed
    (HDR, ["h264"], ("h264", 854, 480, "yuvj420p", "avc1")),  # 10-bit PQ tone mapped to 8-bit full-range BT.709
])
def test_each_codec_and_orientation_gives_a_decodable_first_segment(user_client, realtime, video, tmp_path, clip,
                                                                    codecs, expected, monkeypatch):
    # Tone mapping on a machine busy with other tests can take longer than a player's first wait; what is
    # tested here is the segment's content, not the real-time speed (bench/transcode.py measures that).
    monkeypatch.setattr(hls, "WAIT_SECONDS", 90)
    realtime(videoCodecs=codecs, resolutions=[480])
    asset = video(clip)
    (_info, uri), = stream_uris(user_client.get(master_url(asset)).content.decode())
    base = f"/api/assets/{asset.id}/video/hls/"
    assert user_client.get(base + uri).status_code == 200
    variant_base = base + uri.rsplit("/", 1)[0] + "/"
    joined = tmp_path / "first.mp4"
    joined.write_bytes(user_client.get(variant_base + "init.mp4").content
                       + user_client.get(variant_base + "segment-00000.m4s").content)
    with av.open(str(joined)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        frame = next(container.decode(stream))
        assert (context.name, context.width, context.height, context.pix_fmt, stream.codec_tag) == expected
        assert (frame.rotation or 0) == 0
    hls.end_session(hls.root() / uri.split("/")[0])


def test_disabled_refuses_new_sessions_with_a_clear_message(user_client, realtime, video):
    realtime(enabled=False)
    response = user_client.get(master_url(video(SMALL)))
    assert response.status_code == 403
    assert "ffmpeg.realtime.enabled" in response.json()["message"]
    assert not hls.root().exists() or not any(hls.root().iterdir())


def test_only_the_owner_reaches_sessions_and_segments(user_client, realtime, video, django_user_model):
    asset = video(SMALL)
    (_info, uri), = stream_uris(user_client.get(master_url(asset)).content.decode())
    django_user_model.objects.create_user("other@example.com", USER_PASSWORD, name="Other")
    other = Client()
    other.login(email="other@example.com", password=USER_PASSWORD)
    base = f"/api/assets/{asset.id}/video/hls/"
    assert other.get(master_url(asset)).status_code == 404
    assert other.get(base + uri).status_code == 404
    assert other.get(base + uri.replace("playlist.m3u8", "init.mp4")).status_code == 404
    assert Client().get(base + uri).status_code == 401
    # an unknown session, or one of another asset, is not found either
    assert user_client.get(base + "0" * 32 + "/h264-360/playlist.m3u8").status_code == 404
    second = video(FULL_HD)
    assert user_client.get(f"/api/assets/{second.id}/video/hls/{uri}").status_code == 404
    assert user_client.get(base + uri.replace("h264-360", "h264-1080")).status_code == 404  # not offered


def start_encode(user_client, asset) -> tuple[Path, int]:
    (_info, uri), = stream_uris(user_client.get(master_url(asset)).content.decode())
    assert user_client.get(f"/api/assets/{asset.id}/video/hls/{uri}").status_code == 200
    session_id, variant, _name = uri.split("/")
    folder = hls.root() / session_id
    return folder, int((folder / variant / hls.PID_FILE).read_text())


def test_ending_a_session_kills_ffmpeg_and_removes_the_folder(user_client, realtime, video, long_clip):
    realtime(resolutions=[720])
    folder, pid = start_encode(user_client, video(long_clip))
    assert hls.running_pid(next(path for path in folder.iterdir() if path.is_dir())) == pid
    assert hls.end_idle_sessions(idle_seconds=3600) == 0  # in use: kept
    assert folder.is_dir()
    assert hls.end_idle_sessions(idle_seconds=0) == 1
    assert not folder.exists()
    assert ffmpeg_gone(pid)


def test_the_player_ends_its_session(user_client, realtime, video, long_clip, django_user_model):
    realtime(resolutions=[720])
    asset = video(long_clip)
    folder, pid = start_encode(user_client, asset)
    url = f"/api/assets/{asset.id}/video/hls/{folder.name}"
    django_user_model.objects.create_user("other@example.com", USER_PASSWORD, name="Other")
    other = Client()
    other.login(email="other@example.com", password=USER_PASSWORD)
    assert other.delete(url).status_code == 404
    assert folder.is_dir() and hls.running_pid(folder / "h264-720") == pid
    assert user_client.delete(url).status_code == 204
    assert not folder.exists()
    assert ffmpeg_gone(pid)
    assert user_client.delete(url).status_code == 404


def test_switching_variant_stops_the_previous_encode(user_client, realtime, video, long_clip):
    realtime(resolutions=[480, 720])
    asset = video(long_clip)
    streams = stream_uris(user_client.get(master_url(asset)).content.decode())
    base = f"/api/assets/{asset.id}/video/hls/"
    assert user_client.get(base + streams[1][1]).status_code == 200
    session_id, first_variant, _ = streams[1][1].split("/")
    first_pid = int((hls.root() / session_id / first_variant / hls.PID_FILE).read_text())
    assert hls.running_pid(hls.root() / session_id / first_variant) == first_pid
    assert user_client.get(base + streams[0][1]).status_code == 200
    assert ffmpeg_gone(first_pid)
    assert [path.name for path in (hls.root() / session_id).iterdir() if path.is_dir()] == ["h264-480"]
    hls.end_session(hls.root() / session_id)


def test_watchdog_ends_an_idle_session(user_client, realtime, video, long_clip, monkeypatch):
    monkeypatch.setattr(hls, "CHECK_SECONDS", 0.2)
    realtime(resolutions=[720])
    folder, pid = start_encode(user_client, video(long_clip))
    old = time.time() - hls.IDLE_SECONDS - 1
    os.utime(folder / hls.SESSION_FILE, (old, old))  # nobody asked anything for longer than IDLE_SECONDS
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not folder.exists()
    assert ffmpeg_gone(pid)


def test_nightly_database_cleanup_ends_idle_sessions(user_client, realtime, video):
    from jobs_app import schedules

    folder, pid = start_encode(user_client, video(SMALL))
    assert any("HlsSessionCleanup" in outcome for outcome in schedules.fire_nightly(schedules.get_config()))
    job = Job.objects.get(name="HlsSessionCleanup")
    assert get_handler("HlsSessionCleanup").func(job) == "ended 0 idle HLS session(s)"  # still in use
    old = time.time() - hls.IDLE_SECONDS - 1
    os.utime(folder / hls.SESSION_FILE, (old, old))
    assert get_handler("HlsSessionCleanup").func(job) == "ended 1 idle HLS session(s)"
    assert not folder.exists()
    assert ffmpeg_gone(pid)
