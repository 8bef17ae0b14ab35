"""ffprobe's view of a video, read with PyAV (the wheel ships no ffprobe): codec names as ffprobe prints them
(the codec, not the decoder: MP3 is `mp3`, not `mp3float`), pixel format, colour transfer, rotation,
bitrates and the container's format names. Feeds metadata extraction and the transcode decision."""

import av

from .imaging import BadMediaFile, check_readable
from .transcode_command import AudioStream, VideoProbe, VideoStream

# libavutil's AVColorTransferCharacteristic values, by the names ffprobe prints.
COLOR_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
                   9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
                   14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}


def codec_name(stream) -> str:
    """ffprobe's codec_name: the codec descriptor's name, whichever decoder PyAV picked."""
    return stream.codec.canonical_name or stream.codec_context.name or "unknown"


def rotation(container, stream) -> int:
    """The display-matrix rotation in ffprobe's convention (counter-clockwise degrees). PyAV exposes it on
    decoded frames, so the first frame is decoded."""
    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation or 0))
    except (av.FFmpegError, ValueError):
        return 0
    return 0


def _main(streams):
    """Immich's main stream: the known codec with the highest bitrate (the first on a tie)."""
    known = [stream for stream in streams if codec_name(stream) != "unknown"]
    return max(known, key=lambda stream: stream.bit_rate or 0, default=None)


def video_stream(container) -> VideoStream | None:
    stream = _main(container.streams.video)
    if stream is None:
        return None
    context = stream.codec_context
    return VideoStream(
        index=stream.index, codec=codec_name(stream), width=context.width or 0, height=context.height or 0,
        pix_fmt=context.pix_fmt or "", color_transfer=COLOR_TRANSFERS.get(context.color_trc, ""),
        rotation=rotation(container, stream), bitrate=stream.bit_rate or 0, frame_count=stream.frames or 0)


def audio_stream(container) -> AudioStream | None:
    stream = _main(container.streams.audio)
    return AudioStream(stream.index, codec_name(stream), stream.bit_rate or 0) if stream is not None else None


def open_video(path):
    check_readable(path)
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as error:
        raise BadMediaFile(path, f"not a video, or a video format this server cannot read ({error})")


def duration(container) -> float:
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    stream = container.streams.video[0] if container.streams.video else None
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def probe(path) -> VideoProbe:
    with open_video(path) as container:
        video = video_stream(container)
        if video is None:
            raise BadMediaFile(path, "the file has no video stream")
        return VideoProbe(container.format.name, container.format.long_name or "", duration(container), video,
                          audio_stream(container))
