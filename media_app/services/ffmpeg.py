"""The ffmpeg binary shipped inside the `imageio-ffmpeg` wheel (a static build with libx264/x265/vpx, zscale
and tonemap), so nothing has to be installed by hand. Shared by video thumbnails and transcoding."""

import subprocess
from functools import cache

import imageio_ffmpeg

# HDR transfer functions that need tone mapping to look right in SDR (ffmpeg's names).
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


@cache
def executable() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@cache
def version() -> str:
    return imageio_ffmpeg.get_ffmpeg_version()


def tonemap_filters(algorithm: str) -> list[str]:
    """HDR -> SDR (BT.709) with the configured operator (ffmpeg.tonemap), as Immich's CPU path does:
    linearise, convert primaries, tone map, re-encode with the BT.709 curve. Empty when disabled."""
    if algorithm == "disabled":
        return []
    return ["zscale=t=linear:npl=100", "format=gbrpf32le", "zscale=p=bt709",
            f"tonemap={algorithm}:desat=0", "zscale=t=bt709:m=bt709:r=pc"]


class FfmpegError(Exception):
    pass


def run(arguments: list[str], timeout: float = 300) -> bytes:
    """Run ffmpeg, return its stdout; FfmpegError with the last lines of its log on failure."""
    command = [executable(), "-hide_banner", "-nostdin", "-v", "error", *arguments]
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise FfmpegError(f"ffmpeg did not finish within {timeout:.0f} s")
    if result.returncode != 0:
        log = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FfmpegError(" / ".join(log[-3:]) or f"ffmpeg exited with code {result.returncode}")
    return result.stdout
