"""Real-time HLS (Immich's alpha `ffmpeg.realtime.*`): a viewing session is a folder MEDIA_ROOT/hls/<session>/
made when the player asks for the master playlist, which offers every configured codec at every configured
resolution (the short side, as Immich) not above the video's own (its own when none fits). Asking for a
variant's media playlist starts one low-priority ffmpeg writing fMP4 segments of 2 s into <session>/<variant>/
(an EVENT playlist that grows while ffmpeg runs); a switch to another variant stops the previous one, whose
segments are dropped.

A session no one asked anything of for IDLE_SECONDS is ended (ffmpeg killed, folder removed) by a watchdog
thread beside each ffmpeg, by the sweep run when a new session starts, and by the nightly cleanup, so a web
process that died still leaves nothing behind for long. Process ids live in the folder (ffmpeg.pid) and are
killed only if that process's working directory is still the variant's folder."""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings

from .ffmpeg import executable, tonemap_filters
from .transcode import NICENESS
from .transcode_command import VideoProbe

SEGMENT_SECONDS = 2
IDLE_SECONDS = 120  # a session untouched this long is ended
CHECK_SECONDS = 5  # how often a watchdog looks at its session
WAIT_SECONDS = 20  # how long a playlist or segment request waits for ffmpeg to produce it
SESSION_ID = re.compile(r"[0-9a-f]{32}")
SEGMENT_NAME = re.compile(r"init\.mp4|segment-\d{5}\.m4s")
PLAYLIST = "playlist.m3u8"
SESSION_FILE = "session.json"
PID_FILE = "ffmpeg.pid"
LOG_FILE = "ffmpeg.log"
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mp4": "video/mp4", ".m4s": "video/iso.segment"}
# Rough bandwidth per height for the master playlist (players use it to pick a first variant).
BANDWIDTH = {480: 1_500_000, 720: 3_000_000, 1080: 6_000_000, 1440: 12_000_000, 2160: 20_000_000}


class HlsError(Exception):
    """A variant that could not be produced; the message names ffmpeg's last log lines."""


@dataclass(frozen=True)
class Variant:
    codec: str  # ffmpeg.realtime.videoCodecs value: h264 or hevc
    resolution: int  # the short side, as Immich's resolutions mean it (480 = 854x480 or 480x854)
    width: int
    height: int
    has_audio: bool

    @property
    def name(self) -> str:
        return f"{self.codec}-{self.resolution}"

    @property
    def high_level(self) -> bool:
        return self.resolution > 1080

    @property
    def scale_filter(self) -> str:
        return f"scale=-2:{self.height}" if self.width >= self.height else f"scale={self.width}:-2"

    @property
    def codecs_attribute(self) -> str:
        """RFC 8216 CODECS for the profile and level the encoder is told to use."""
        video = ("avc1.6400" + ("33" if self.high_level else "29")) if self.codec == "h264" else \
            "hvc1.1.6.L" + ("153" if self.high_level else "123") + ".B0"
        return f"{video},mp4a.40.2" if self.has_audio else video


def root() -> Path:
    return Path(django_settings.MEDIA_ROOT) / "hls"


def display_size(probe: VideoProbe) -> tuple[int, int]:
    """Width and height as shown: ffmpeg auto-rotates, so a quarter-turn swaps them."""
    video = probe.video
    if abs(video.rotation) % 180 == 90:
        return video.height, video.width
    return video.width, video.height


def even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def variants(probe: VideoProbe, realtime) -> list[Variant]:
    """Every configured codec at every configured resolution (short side) not above the video's (the
    video's own when none fits), smallest first."""
    width, height = display_size(probe)
    short = min(width, height)
    targets = sorted(int(value) for value in realtime.resolutions if int(value) <= short) or [even(short)]
    return [Variant(codec, target, even(width * target / short), even(height * target / short),
                    probe.audio is not None)
            for codec in realtime.videoCodecs for target in targets]


def master_playlist(session_id: str, offered: list[Variant]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in offered:
        bandwidth = BANDWIDTH.get(variant.resolution, variant.width * variant.height * 3)
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={variant.width}x{variant.height},'
                  f'CODECS="{variant.codecs_attribute}"', f"{session_id}/{variant.name}/{PLAYLIST}"]
    return "\n".join(lines) + "\n"


def ffmpeg_arguments(source, probe: VideoProbe, variant: Variant, ffmpeg_config) -> list[str]:
    """Encode for `variant` into fMP4 segments in the working directory, keyframes every segment."""
    filters = []
    if probe.video.is_hdr:
        filters += tonemap_filters(ffmpeg_config.tonemap)
    filters += [variant.scale_filter, "format=yuv420p"]
    high = variant.high_level
    if variant.codec == "h264":
        video = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-level:v", "5.1" if high else "4.1"]
    else:
        video = ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                 "-x265-params", f"log-level=error:level-idc={'5.1' if high else '4.1'}"]
    audio = ["-map", f"0:{probe.audio.index}", "-c:a", "aac", "-b:a", "128k", "-ac", "2"] if probe.audio else []
    threads = ["-threads", str(ffmpeg_config.threads)] if ffmpeg_config.threads > 0 else []
    return [executable(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(source),
            "-map", f"0:{probe.video.index}", *video, "-crf", str(ffmpeg_config.crf), "-vf", ",".join(filters),
            "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", *audio, *threads,
            "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "event",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", "segment-%05d.m4s", "-hls_flags", "temp_file", PLAYLIST]


# --- Sessions -------------------------------------------------------------------------------------------


def create_session(asset, offered: list[Variant]) -> str:
    end_idle_sessions()
    session_id = secrets.token_hex(16)
    folder = root() / session_id
    folder.mkdir(parents=True)
    (folder / SESSION_FILE).write_text(json.dumps({"asset": str(asset.id), "variants": [v.name for v in offered]}))
    return session_id


def session_folder(session_id: str, asset) -> Path | None:
    """The session's folder if it exists and belongs to `asset` (marked as used now), else None."""
    if not SESSION_ID.fullmatch(session_id):
        return None
    folder = root() / session_id
    try:
        data = json.loads((folder / SESSION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("asset") != str(asset.id):
        return None
    touch(folder)
    return folder


def session_variants(folder: Path) -> list[str]:
    return json.loads((folder / SESSION_FILE).read_text())["variants"]


def touch(folder: Path) -> None:
    try:
        os.utime(folder / SESSION_FILE)
    except OSError:
        pass


def idle_for(folder: Path) -> float:
    try:
        return time.time() - (folder / SESSION_FILE).stat().st_mtime
    except OSError:
        return float("inf")


def end_session(folder: Path) -> None:
    """Kill every ffmpeg of the session, then remove its folder."""
    for variant_folder in (path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else ():
        stop_variant(variant_folder)
    shutil.rmtree(folder, ignore_errors=True)


def end_idle_sessions(idle_seconds: float | None = None) -> int:
    """End the sessions untouched for `idle_seconds` (IDLE_SECONDS by default); returns how many."""
    limit = IDLE_SECONDS if idle_seconds is None else idle_seconds
    ended = 0
    for folder in root().iterdir() if root().is_dir() else ():
        if folder.is_dir() and idle_for(folder) >= limit:
            end_session(folder)
            ended += 1
    return ended


# --- ffmpeg per variant ---------------------------------------------------------------------------------


def running_pid(variant_folder: Path) -> int | None:
    """The pid of the ffmpeg still working in this folder (checked through /proc, so a reused pid of an
    unrelated process is never touched)."""
    try:
        pid = int((variant_folder / PID_FILE).read_text())
        if os.readlink(f"/proc/{pid}/cwd") != str(variant_folder.resolve()):
            return None
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None  # exited, waiting to be reaped
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_variant(variant_folder: Path) -> None:
    pid = running_pid(variant_folder)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _nice():
    os.nice(NICENESS)  # no parent-death signal: the request thread that starts ffmpeg ends at once


def _watch(process: subprocess.Popen, session: Path) -> None:
    """Reap ffmpeg; end the session once it is idle, or kill ffmpeg when the session was ended elsewhere."""
    try:
        while session.is_dir():
            if idle_for(session) >= IDLE_SECONDS:
                end_session(session)
                break
            try:
                process.wait(timeout=CHECK_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            if process.returncode is not None:
                time.sleep(CHECK_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def start_variant(session: Path, variant_name: str, source, probe: VideoProbe, ffmpeg_config) -> Path:
    """The variant's folder, with ffmpeg started in it unless a request already did so. Other variants of
    the session are stopped and dropped (one encode per viewer)."""
    offered = {variant.name: variant for variant in variants(probe, ffmpeg_config.realtime)}
    folder = session / variant_name
    try:
        folder.mkdir()  # atomic: only one request starts the encode
    except FileExistsError:
        return folder
    for other in session.iterdir():
        if other.is_dir() and other != folder:
            stop_variant(other)
            shutil.rmtree(other, ignore_errors=True)
    argv = ffmpeg_arguments(source, probe, offered[variant_name], ffmpeg_config)
    with open(folder / LOG_FILE, "wb") as log:
        process = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=log, preexec_fn=_nice)
    (folder / PID_FILE).write_text(str(process.pid))
    threading.Thread(target=_watch, args=(process, session), daemon=True, name=f"hls-{session.name}").start()
    return folder


def _failure(folder: Path) -> str:
    try:
        lines = (folder / LOG_FILE).read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return " / ".join(lines[-3:]) or "ffmpeg stopped without output"


def wait_for(path: Path, folder: Path, ready=lambda path: path.exists(), seconds: float | None = None) -> bool:
    """Wait until `ready(path)` while ffmpeg works in `folder`. False when it stopped (or time ran out)
    without producing it; HlsError when ffmpeg failed."""
    deadline = time.monotonic() + (WAIT_SECONDS if seconds is None else seconds)
    while True:
        if ready(path):
            return True
        if running_pid(folder) is None and (folder / PID_FILE).exists():
            if ready(path):
                return True
            if not (folder / PLAYLIST).exists():
                raise HlsError(f"ffmpeg could not encode this variant: {_failure(folder)}")
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def has_segment(playlist: Path) -> bool:
    try:
        return "#EXTINF" in playlist.read_text()
    except OSError:
        return False


def media_playlist(folder: Path) -> str | None:
    """The variant's playlist once it lists a segment; None when not ready in time."""
    if wait_for(folder / PLAYLIST, folder, has_segment):
        return (folder / PLAYLIST).read_text()
    return None


def segment(folder: Path, name: str) -> Path | None:
    """A finished segment (ffmpeg writes to .tmp and renames), waiting for it while ffmpeg works."""
    if not SEGMENT_NAME.fullmatch(name):
        return None
    path = folder / name
    return path if wait_for(path, folder) else None
