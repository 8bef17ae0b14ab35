"""AssetEncodeVideo with the real bundled ffmpeg on the test videos: what is left alone, what is transcoded
(probed afterwards: codecs, size, orientation), remux, audio only, policy changes, hardware fallback and a
killed ffmpeg. Clips are 2-3 s at 640x360 so this stays quick on 2 cores."""

import logging
import os
import shutil
import signal
from pathlib import Path

import pytest

from jobs_app.handlers import get_handler
from jobs_app.models import Job
from media_app.models import Asset, Library
from media_app.services import metadata, transcode, trash, video_probe
from media_app.services.ffmpeg import FfmpegError
from media_app.services.transcode_command import Command
from settings_app.services import refresh_config, save_values

from .conftest import VIDEOS

H264 = VIDEOS / "h264_aac_640x360_3s.mp4"
HEVC = VIDEOS / "hevc_aac_640x360_3s.mov"
VP9 = VIDEOS / "vp9_opus_640x360_3s.webm"
HDR = VIDEOS / "hevc_10bit_hdr10_pq_1280x720_2s.mp4"
ROTATED = VIDEOS / "h264_aac_640x360_3s_rotate90cw.mp4"
FULL_HD = VIDEOS / "h264_aac_1920x1080_60fps_2s_gps.mp4"


@pytest.fixture
def configure(save_settings):
    def set_values(**values):
        save_settings("ffmpeg", **values)

    return set_values


@pytest.fixture
def video(make_asset):
    def make(path):
        return metadata.extract_asset(make_asset(path).id)

    return make


def encoded(asset) -> Path | None:
    asset.refresh_from_db()
    return transcode.encoded_path(asset) if asset.encoded_video_path else None


def assert_playable_h264(path: Path, width: int, height: int, audio: str | None = "aac", pix_fmt="yuv420p"):
    probe = video_probe.probe(path)
    assert probe.container == "mov" and path.suffix == ".mp4"
    assert (probe.video.codec, probe.video.pix_fmt) == ("h264", pix_fmt)
    assert (probe.video.width, probe.video.height, probe.video.rotation) == (width, height, 0)
    assert (probe.audio.codec if probe.audio else None) == audio
    return probe


def test_h264_aac_mp4_is_left_alone_under_required(video):
    asset = video(H264)
    outcome = transcode.transcode_asset(asset.id)
    assert "not transcoded" in outcome
    assert encoded(asset) is None
    assert not (Path(transcode.encoded_path(asset)).parent.exists()
                and any(transcode.encoded_path(asset).parent.iterdir()))


@pytest.mark.parametrize(("path", "size", "audio", "pix_fmt"), [
    (HEVC, (640, 360), "aac", "yuv420p"),
    (VP9, (640, 360), "opus", "yuv420p"),  # opus is accepted: copied (browsers play Opus in MP4)
    (HDR, (1280, 720), None, "yuvj420p"),  # tone mapped to full-range BT.709 (r=pc), as Immich
])
def test_unaccepted_or_hdr_video_becomes_h264_mp4(video, path, size, audio, pix_fmt):
    asset = video(path)
    transcode.transcode_asset(asset.id)
    output = encoded(asset)
    assert output.is_file() and output.name == f"{asset.id}.mp4"
    assert_playable_h264(output, *size, audio=audio, pix_fmt=pix_fmt)
    assert list(output.parent.iterdir()) == [output]  # no temporary file left


def test_hdr_is_tone_mapped_to_bt709(video):
    asset = video(HDR)
    transcode.transcode_asset(asset.id)
    with video_probe.open_video(encoded(asset)) as container:
        assert container.streams.video[0].codec_context.color_trc == 1  # bt709


def test_rotated_video_is_turned_upright(video, configure):
    configure(transcode="all")
    asset = video(ROTATED)
    transcode.transcode_asset(asset.id)
    assert_playable_h264(encoded(asset), 360, 640)  # coded upright, no display matrix left


def test_optimal_scales_a_larger_video_down(video, configure):
    configure(transcode="optimal", targetResolution="480")
    asset = video(FULL_HD)
    assert "video re-encode" in transcode.transcode_asset(asset.id)
    assert_playable_h264(encoded(asset), 854, 480)


def test_remux_only_copies_the_streams_into_mp4(video, configure):
    configure(acceptedVideoCodecs=["h264", "vp9"], acceptedContainers=["mov"])
    asset = video(VP9)
    assert "remux" in transcode.transcode_asset(asset.id)
    probe = video_probe.probe(encoded(asset))
    assert (probe.container, probe.video.codec, probe.audio.codec) == ("mov", "vp9", "opus")


def test_audio_only_reencodes_the_audio_and_copies_the_video(video, configure):
    configure(targetAudioCodec="opus", acceptedAudioCodecs=["opus"])
    asset = video(H264)
    assert "audio-only" in transcode.transcode_asset(asset.id)
    probe = video_probe.probe(encoded(asset))
    assert (probe.video.codec, probe.audio.codec) == ("h264", "opus")
    assert probe.video.bitrate == pytest.approx(video_probe.probe(H264).video.bitrate, rel=0.01)  # copied


def test_a_policy_that_no_longer_transcodes_removes_the_encoded_file(video, configure):
    asset = video(HEVC)
    transcode.transcode_asset(asset.id)
    output = encoded(asset)
    assert output.is_file()
    configure(acceptedVideoCodecs=["h264", "hevc"])
    assert "encoded file removed" in transcode.transcode_asset(asset.id)
    assert not output.exists() and encoded(asset) is None


def test_disabled_policy_transcodes_nothing_even_hdr(video, configure):
    configure(transcode="disabled")
    asset = video(HDR)
    assert "policy is disabled" in transcode.transcode_asset(asset.id)
    assert encoded(asset) is None


def test_hardware_failure_falls_back_to_software_logging_each_command(video, configure, caplog):
    configure(accel="nvenc", accelDecode=True)  # no CUDA here: both hardware attempts fail
    asset = video(HEVC)
    with caplog.at_level(logging.INFO, logger="media_app.services.transcode"):
        outcome = transcode.transcode_asset(asset.id)
    assert outcome.endswith("with software")
    commands = [record.getMessage() for record in caplog.records if "ffmpeg pass" in record.getMessage()]
    assert len(commands) == 3
    assert "-hwaccel cuda" in commands[0] and "h264_nvenc" in commands[0]
    assert "-init_hw_device cuda=cuda:0" in commands[1] and "h264_nvenc" in commands[1]
    assert "libx264" in commands[2] and "nvenc" not in commands[2]
    failures = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(failures) == 2
    assert_playable_h264(encoded(asset), 640, 360)


def test_a_missing_dev_dri_fails_the_hardware_attempts_with_the_reason_then_encodes_in_software(
        video, configure, caplog, monkeypatch):
    monkeypatch.setattr(transcode, "interfaces", lambda: transcode.Interfaces(dri=("renderD128",)))
    configure(accel="vaapi", targetVideoCodec="h264")
    monkeypatch.setattr(transcode, "interfaces", lambda: transcode.Interfaces())  # the device went away
    asset = video(HEVC)
    with caplog.at_level(logging.ERROR, logger="media_app.services.transcode"):
        assert transcode.transcode_asset(asset.id).endswith("with software")
    assert any("needs a /dev/dri device and none was found" in record.getMessage() for record in caplog.records)


def _ffmpeg_children() -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and "ffmpeg" in stat.split(")")[0]:
                children.append(int(entry.name))
    return children


def test_a_killed_ffmpeg_leaves_nothing_behind(tmp_path):
    final = tmp_path / "out.mp4"
    command = Command([], ["-c:v", "libx264", "-preset", "veryslow", "-c:a", "aac"])

    def kill_on_first_progress(percent):
        for pid in _ffmpeg_children():
            os.kill(pid, signal.SIGKILL)

    with pytest.raises(FfmpegError, match="killed by signal 9"):
        transcode.run_command(command, FULL_HD, final, 2.0, kill_on_first_progress)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_percent_of_duration(tmp_path):
    seen = []
    transcode.run_command(Command([], ["-c:v", "libx264", "-preset", "ultrafast", "-an"]), H264,
                          tmp_path / "out.mp4", 3.0, seen.append)
    assert seen == sorted(seen) and seen[-1] >= 95
    assert (tmp_path / "out.mp4").is_file()


def test_failure_keeps_the_previous_encoded_file_and_names_the_command(video, tmp_path):
    final = tmp_path / "out.mp4"
    final.write_bytes(b"previous")
    with pytest.raises(FfmpegError, match="Command: .*-c:v no_such_encoder"):
        transcode.run_command(Command([], ["-c:v", "no_such_encoder"]), H264, final, 3.0)
    assert final.read_bytes() == b"previous" and list(tmp_path.iterdir()) == [final]


def test_deleting_the_asset_deletes_its_encoded_file_but_never_a_library_original(video, user, tmp_path):
    copy = tmp_path / "library" / HEVC.name
    copy.parent.mkdir()
    shutil.copy(HEVC, copy)  # deleting an upload deletes its original: never point it at the test data
    library = Library.objects.create(owner=user, name="Videos", import_paths=[str(copy.parent)])
    asset = video(copy)
    Asset.objects.filter(pk=asset.pk).update(library=library)
    transcode.transcode_asset(asset.id)
    output = encoded(asset)
    assert output.is_file()
    trash.remove_permanently([Asset.objects.get(pk=asset.pk)])
    assert not output.exists() and copy.is_file()


def test_queue_all_covers_every_video_and_missing_only_those_without_a_file(video, make_asset):
    done, plain = video(HEVC), video(H264)
    transcode.transcode_asset(done.id)
    assert set(transcode.asset_ids_to_encode(True)) == {done.id, plain.id}
    assert transcode.asset_ids_to_encode(False) == [plain.id]
    transcode.encoded_path(done).unlink()
    assert set(transcode.asset_ids_to_encode(False)) == {done.id, plain.id}


@pytest.mark.django_db(transaction=True)
def test_upload_metadata_queues_the_encode_and_the_handler_runs_it(make_asset):
    asset = make_asset(HEVC)
    job = Job.objects.create(queue="metadataExtraction", name="AssetExtractMetadata",
                             data={"id": str(asset.id), "source": "upload"})
    get_handler("AssetExtractMetadata").func(job)
    encode = Job.objects.get(name="AssetEncodeVideo")
    assert (encode.queue, encode.data) == ("videoConversion", {"id": str(asset.id)})
    assert not get_handler("AssetEncodeVideo").placeholder
    assert "video re-encode" in get_handler("AssetEncodeVideo").func(encode)
    assert encoded(asset).is_file()


def test_saving_an_accel_that_cannot_work_here_is_refused_naming_the_field(admin_user, monkeypatch):
    result = save_values({"ffmpeg.accel": "nvenc", "ffmpeg.targetVideoCodec": "vp9"}, user=admin_user)
    assert result.errors == {"ffmpeg.targetVideoCodec": [
        "NVENC acceleration does not support the video codec VP9; it supports H264, HEVC, AV1."]}
    monkeypatch.setattr(transcode, "interfaces", lambda: transcode.Interfaces())
    result = save_values({"ffmpeg.accel": "vaapi"}, user=admin_user)
    assert "needs a /dev/dri device and none was found" in result.errors["ffmpeg.accel"][0]
    monkeypatch.setattr(transcode, "interfaces", lambda: transcode.Interfaces(dri=("renderD128",)))
    assert save_values({"ffmpeg.accel": "vaapi"}, user=admin_user).ok
    refresh_config()
    # Unrelated saves are not blocked even when the device disappears later.
    monkeypatch.setattr(transcode, "interfaces", lambda: transcode.Interfaces())
    assert save_values({"ffmpeg.crf": 30}, user=admin_user).ok


@pytest.mark.django_db(transaction=True)
def test_the_job_reports_its_progress(make_asset):
    asset = metadata.extract_asset(make_asset(HEVC).id)
    job = Job.objects.create(queue="videoConversion", name="AssetEncodeVideo", data={"id": str(asset.id)},
                             status=Job.ACTIVE, claim_token="token")
    get_handler("AssetEncodeVideo").func(job)
    assert Job.objects.get(pk=job.pk).progress >= 95
