"""AssetEncodeVideo (Immich's MediaService.handleVideoConversion): probe, decide with the settings in force
now, run ffmpeg at low priority into a temporary file beside the target and rename it on success. A hardware
failure falls back as Immich does: hardware encode + software decode, then software. A video the policy no
longer transcodes loses its encoded file."""

import ctypes
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings

from settings_app.events import ConfigInvalid
from settings_app.services import config_with, get_config, unsaved_config

from ..models import Asset, AssetType
from . import video_probe
from .ffmpeg import FfmpegError, executable
from .transcode_command import (
    Command,
    Interfaces,
    TranscodeConfigError,
    VideoProbe,
    build_command,
    check_settings,
    decide,
)

log = logging.getLogger(__name__)

NICENESS = 10  # as Immich (fluent-ffmpeg niceness 10): transcodes yield to the web server
PR_SET_PDEATHSIG = 1
ProgressCallback = Callable[[int], None]


def interfaces() -> Interfaces:
    """The hardware on this machine: /dev/dri entries and Mali OpenCL (RKMPP tone mapping)."""
    try:
        dri = tuple(sorted(os.listdir("/dev/dri")))
    except OSError:
        dri = ()
    mali = Path("/etc/OpenCL/vendors/mali.icd").is_file() and Path("/dev/mali0").is_char_device()
    return Interfaces(dri, mali)


HARDWARE_KEYS = ("accel", "accelDecode", "targetVideoCodec", "preferredHwDevice")


def validate_hardware(old, new) -> None:
    """config_validate: refuse an acceleration that cannot work here (codec it lacks, no /dev/dri device),
    naming the field. Checked only when one of those settings changes, so other saves are never blocked."""
    if new.ffmpeg.accel == "disabled" or all(
            getattr(old.ffmpeg, key) == getattr(new.ffmpeg, key) for key in HARDWARE_KEYS):
        return
    try:
        check_settings(new.ffmpeg, interfaces())
    except TranscodeConfigError as error:
        raise ConfigInvalid(error.path, str(error))


def encoded_path(asset: Asset) -> Path:
    """MEDIA_ROOT/encoded-video/<owner>/<id[0:2]>/<id[2:4]>/<id>.mp4, Immich's layout."""
    asset_id = str(asset.id)
    return (Path(django_settings.MEDIA_ROOT) / "encoded-video" / str(asset.owner_id) / asset_id[0:2]
            / asset_id[2:4] / f"{asset_id}.mp4")


def _temporary_path(final: Path) -> Path:
    return final.with_name(f"{final.stem}.partial.mp4")  # .mp4: ffmpeg picks the muxer by extension


@dataclass
class Plan:
    """What a transcode would do now: the decision, and the command of each attempt in fallback order."""

    probe: VideoProbe
    decision: object
    attempts: list  # (label, Command | None, error message | None)


def plan(path, ffmpeg_config=None, hardware: Interfaces | None = None) -> Plan:
    config = ffmpeg_config or get_config()
    probe = video_probe.probe(path)
    decision = decide(probe, config.ffmpeg)
    attempts = []
    if decision.transcode:
        hardware = hardware if hardware is not None else interfaces()
        for variant in fallbacks(config):
            try:
                attempts.append((variant, build_command(probe, decision, variant.ffmpeg, hardware), None))
            except TranscodeConfigError as error:
                attempts.append((variant, None, str(error)))
    return Plan(probe, decision, attempts)


def fallbacks(config) -> list:
    """Immich's order: as configured; then hardware encode with software decode; then software only."""
    ffmpeg = config.ffmpeg
    variants = [config]
    if ffmpeg.accel != "disabled":
        if ffmpeg.accelDecode:
            variants.append(config_with({"ffmpeg.accelDecode": False}, config))
        variants.append(config_with({"ffmpeg.accel": "disabled"}, config))
    return variants


def transcode_asset(asset_id, progress: ProgressCallback | None = None) -> str:
    asset = Asset.objects.get(pk=asset_id)
    if asset.type != AssetType.VIDEO:
        return f"{asset.original_filename} is not a video"
    current = plan(asset.original_path)
    final = encoded_path(asset)
    if not current.decision.transcode:
        reason = "; ".join(current.decision.reasons)
        if asset.encoded_video_path:
            remove_encoded(asset)
            return f"{asset.original_filename}: no longer needs transcoding ({reason}), encoded file removed"
        return f"{asset.original_filename}: not transcoded ({reason})"

    final.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for variant, command, config_error in current.attempts:
        label = command.encoder_label if command else variant.ffmpeg.accel.upper()
        if command is None:
            log.error("transcoding %s with %s: %s", asset.id, label, config_error)
            errors.append(f"{label}: {config_error}")
            continue
        try:
            run_command(command, asset.original_path, final, current.probe.duration, progress)
        except FfmpegError as error:
            log.error("transcoding %s with %s failed: %s", asset.id, label, error)
            errors.append(f"{label}: {error}")
            continue
        relative = str(final.relative_to(django_settings.MEDIA_ROOT))
        Asset.objects.filter(pk=asset.pk).update(encoded_video_path=relative)
        return f"{asset.original_filename}: {current.decision.kind} with {label}"
    raise FfmpegError(" | ".join(errors))


def remove_encoded(asset: Asset) -> None:
    path = Path(django_settings.MEDIA_ROOT) / asset.encoded_video_path
    Asset.objects.filter(pk=asset.pk).update(encoded_video_path="")
    path.unlink(missing_ok=True)


def run_command(command: Command, source, final: Path, duration: float,
                progress: ProgressCallback | None = None) -> None:
    """Run every pass into the temporary file, then rename it over `final`. Any failure (or a kill) removes
    the temporary file and the two-pass logs, so nothing partial is ever left at `final`."""
    temporary = _temporary_path(final)
    passes = command.passes(executable(), str(source), str(temporary))
    try:
        for number, argv in enumerate(passes, 1):
            log.info("ffmpeg pass %d/%d: %s", number, len(passes), shlex.join(argv))
            _run_pass(argv, duration, progress)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
        for leftover in temporary.parent.glob(f"{temporary.name}-*.log*"):
            leftover.unlink(missing_ok=True)


def _low_priority_child():
    """In the ffmpeg child: nice 10, and die with the worker (a killed job must not leave ffmpeg writing)."""
    os.nice(NICENESS)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _run_pass(argv: list[str], duration: float, progress: ProgressCallback | None) -> None:
    with tempfile.TemporaryFile() as log_file:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log_file, preexec_fn=_low_priority_child)
        last = -1
        try:
            for line in process.stdout:
                key, _, value = line.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and progress and duration > 0 and value.isdigit():
                    percent = min(100, int(int(value) / 1_000_000 / duration * 100))
                    if percent != last:
                        last = percent
                        progress(percent)
        finally:
            code = process.wait()
        if code != 0:
            log_file.seek(0)
            tail = deque((line.decode("utf-8", "replace").rstrip() for line in log_file), maxlen=4)
            reason = " / ".join(line for line in tail if line) or f"exit code {code}"
            if code < 0:
                reason = f"killed by signal {-code}"
            raise FfmpegError(f"ffmpeg failed ({reason}). Command: {shlex.join(argv)}")


def asset_ids_to_encode(force: bool | None) -> list:
    """ALL (force): every online video; MISSING: videos without an encoded file (in the database or on
    disk). Videos that need no transcoding are checked again by the job, which is cheap (a probe)."""
    videos = Asset.objects.filter(type=AssetType.VIDEO, is_offline=False, deleted_at__isnull=True)
    if force:
        return list(videos.values_list("id", flat=True))
    root = Path(django_settings.MEDIA_ROOT)
    return [asset_id for asset_id, path in videos.values_list("id", "encoded_video_path")
            if not path or not (root / path).exists()]


# --- "Test transcode" on the Video Transcoding settings page -----------------------------------------

SETTINGS_SLUG = "video-transcoding"
TEST_SECONDS = 3


def config_for_test(data) -> tuple[object | None, list[str]]:
    """The settings the Video Transcoding form holds now (unsaved) over the saved ones."""
    return unsaved_config(SETTINGS_SLUG, data)


@dataclass
class TestRun:
    label: str
    seconds: float
    error: str = ""
    output: VideoProbe | None = None


def run_sample(current: Plan, source, seconds: int = TEST_SECONDS) -> TestRun:
    """Run the planned command (with its fallbacks) on the first `seconds` of the video into a temporary
    folder, probe the result and delete it."""
    errors = []
    with tempfile.TemporaryDirectory(prefix="transcode-test-") as folder:
        final = Path(folder) / "sample.mp4"
        for _variant, command, config_error in current.attempts:
            if command is None:
                errors.append(config_error)
                continue
            sample = Command(command.input_options, [*command.output_options, "-t", str(seconds)],
                             command.two_pass, command.encoder_label)
            started = time.monotonic()
            try:
                run_command(sample, source, final, min(seconds, current.probe.duration or seconds))
            except FfmpegError as error:
                errors.append(f"{command.encoder_label}: {error}")
                continue
            return TestRun(command.encoder_label, time.monotonic() - started, " | ".join(errors),
                           video_probe.probe(final))
    return TestRun("", 0.0, " | ".join(errors) or "nothing to run")


def command_lines(current: Plan, source) -> list[tuple[str, list[str], str]]:
    """(encoder label, the exact ffmpeg invocations, or the reason it cannot run) per attempt."""
    output = "<encoded-video>/<asset id>.partial.mp4"
    return [(command.encoder_label if command else variant.ffmpeg.accel.upper(),
             [shlex.join(argv) for argv in command.passes(executable(), str(source), output)] if command else [],
             error or "")
            for variant, command, error in current.attempts]
