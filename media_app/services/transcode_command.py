"""What a video transcode does, as a pure function of (probe, ffmpeg settings, hardware interfaces): the
decision (Immich's MediaService.getTranscodeTarget / isRemuxRequired) and the ffmpeg arguments (Immich's
BaseConfig and its per-encoder subclasses in server/src/utils/media.ts), rule by rule. No I/O here: the
runner (transcode.py) probes the file, lists /dev/dri and runs what this returns.

Differences from Immich, on purpose: tone mapping uses zscale + tonemap (the bundled ffmpeg has no
`tonemapx`), and a bare max bitrate means kbit/s both in the decision and on the command line."""

import math
import re
from dataclasses import dataclass, field

from .ffmpeg import HDR_TRANSFERS, tonemap_filters

PRESETS = ["veryslow", "slower", "slow", "medium", "fast", "faster", "veryfast", "superfast", "ultrafast"]
# Encoder of each target audio codec (Immich's AUDIO_ENCODER).
AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "opus": "libopus", "pcm_s16le": "pcm_s16le"}
SOFTWARE_VIDEO_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
# Immich's SUPPORTED_HWA_CODECS.
HARDWARE_CODECS = {
    "nvenc": ("h264", "hevc", "av1"),
    "qsv": ("h264", "hevc", "vp9", "av1"),
    "vaapi": ("h264", "hevc", "vp9", "av1"),
    "rkmpp": ("h264", "hevc"),
}
# Accelerations that need a /dev/dri device (NVENC addresses CUDA device 0).
DRI_ACCELS = ("qsv", "vaapi", "rkmpp")
HARDWARE_GOP_SIZE = 256
# ffprobe's format long names Immich maps to its container names; other formats keep their short name.
CONTAINER_BY_LONG_NAME = {"QuickTime / MOV": "mov", "Matroska / WebM": "webm"}
BITRATE_RE = re.compile(r"^\s*(\d+)\s*([kKmM]?)\s*$")


class TranscodeConfigError(Exception):
    """The settings cannot produce a command on this machine (unsupported codec for the accel, no device)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


# --- Inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str  # ffprobe's codec name (h264, hevc, vp9, mpeg4…)
    width: int
    height: int
    pix_fmt: str = "yuv420p"
    color_transfer: str = ""  # ffprobe's name: bt709, smpte2084, arib-std-b67…
    rotation: int = 0  # display-matrix rotation, counter-clockwise degrees as ffprobe prints it
    bitrate: int = 0  # bits per second
    frame_count: int = 0

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    bitrate: int = 0


@dataclass(frozen=True)
class VideoProbe:
    format_name: str  # ffprobe's, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    format_long_name: str
    duration: float
    video: VideoStream | None
    audio: AudioStream | None = None

    @property
    def container(self) -> str:
        """Immich's container name (mov, mp4, webm, ogg…)."""
        return CONTAINER_BY_LONG_NAME.get(self.format_long_name) or self.format_name


@dataclass(frozen=True)
class Interfaces:
    """The hardware the encoders can use: entries of /dev/dri, and whether Mali OpenCL is present."""

    dri: tuple[str, ...] = ()
    mali: bool = False


@dataclass(frozen=True)
class Bitrate:
    max: int  # in `unit`; 0 = no limit
    unit: str  # "k" or "M"

    @classmethod
    def parse(cls, text: str) -> "Bitrate":
        match = BITRATE_RE.match(str(text))
        if not match:
            return cls(0, "k")
        return cls(int(match[1]), "M" if match[2] in ("m", "M") else "k")

    @property
    def bits_per_second(self) -> int:
        return self.max * (1_000_000 if self.unit == "M" else 1000)

    @property
    def target(self) -> int:
        return math.ceil(self.max / 1.45)  # Google's VP9 VOD recommendation, as Immich

    @property
    def min(self) -> float:
        return self.target / 2

    def show(self, value) -> str:
        return f"{_number(value)}{self.unit}"


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- Decision ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    target: str  # "none", "audio", "video" or "all": which streams are re-encoded
    remux: bool  # only the container changes
    reasons: tuple[str, ...]

    @property
    def transcode(self) -> bool:
        return self.target != "none" or self.remux

    @property
    def kind(self) -> str:
        return {"all": "full transcode", "video": "video re-encode (audio copied)",
                "audio": "audio-only re-encode (video copied)"}.get(self.target,
                                                                     "remux" if self.remux else "none")


def decide(probe: VideoProbe, ffmpeg) -> Decision:
    video, audio, policy = probe.video, probe.audio, ffmpeg.transcode
    reasons: list[str] = []
    if policy == "disabled":
        return Decision("none", False, ("the transcode policy is disabled",))

    codec_unaccepted = video.codec not in ffmpeg.acceptedVideoCodecs
    not_420 = not video.pix_fmt.endswith("420p")
    if codec_unaccepted:
        reasons.append(f"video codec {video.codec} is not accepted ({', '.join(ffmpeg.acceptedVideoCodecs)})")
    if not_420:
        reasons.append(f"pixel format {video.pix_fmt} is not 8-bit 4:2:0 (10-bit/HDR is always transcoded)")
    required = codec_unaccepted or not_420
    video_needed = required
    if policy == "all":
        video_needed = True
        reasons.append("the policy transcodes all videos")
    elif policy == "optimal" and ffmpeg.targetResolution != "original":
        short_side = min(video.width, video.height)
        if short_side > int(ffmpeg.targetResolution):
            video_needed = True
            reasons.append(f"short side {short_side}px is above the target resolution {ffmpeg.targetResolution}p")
    elif policy == "bitrate":
        limit = Bitrate.parse(ffmpeg.maxBitrate)
        if limit.max > 0 and video.bitrate > limit.bits_per_second:
            video_needed = True
            reasons.append(f"bitrate {video.bitrate // 1000} kbit/s is above the maximum {ffmpeg.maxBitrate}")

    audio_needed = False
    if audio is not None:
        if policy == "all":
            audio_needed = True
        elif audio.codec not in ffmpeg.acceptedAudioCodecs:
            audio_needed = True
            reasons.append(f"audio codec {audio.codec} is not accepted ({', '.join(ffmpeg.acceptedAudioCodecs)})")

    target = {(True, True): "all", (False, True): "audio", (True, False): "video"}.get(
        (video_needed, audio_needed), "none")
    remux = False
    if target == "none":
        container = probe.container
        if container != "mp4" and container not in ffmpeg.acceptedContainers:
            remux = True
            reasons.append(f"container {container} is not accepted (mp4, {', '.join(ffmpeg.acceptedContainers)})")
        else:
            reasons.append(f"{video.codec}/{audio.codec if audio else 'no audio'} in {container} is accepted "
                           f"under the {policy} policy")
    return Decision(target, remux, tuple(reasons))


# --- Command -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    input_options: list[str]
    output_options: list[str]
    two_pass: bool = False
    encoder_label: str = "software"

    def passes(self, executable: str, source: str, output: str) -> list[list[str]]:
        """The ffmpeg invocations, in order (two for two-pass encoding). `-progress pipe:1` reports progress
        on stdout; the output is overwritten (a restarted job rewrites its temporary file)."""
        head = [executable, "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *self.input_options, "-i", source,
                *self.output_options]
        if not self.two_pass:
            return [[*head, output]]
        return [[*head, "-pass", "1", "-passlogfile", output, "-f", "null", "/dev/null"],
                [*head, "-pass", "2", "-passlogfile", output, output]]


def build_command(probe: VideoProbe, decision: Decision, ffmpeg, interfaces: Interfaces = Interfaces()) -> Command:
    encoder = encoder_for(ffmpeg, interfaces)
    return encoder.command(decision.target, probe.video, probe.audio)


def check_settings(ffmpeg, interfaces: Interfaces) -> None:
    """TranscodeConfigError when the accel/codec/device settings cannot run here."""
    encoder_for(ffmpeg, interfaces)


def encoder_for(ffmpeg, interfaces: Interfaces) -> "SoftwareEncoder":
    accel, codec = ffmpeg.accel, ffmpeg.targetVideoCodec
    if accel == "disabled":
        return SOFTWARE_ENCODER_CLASSES[codec](ffmpeg, interfaces)
    supported = HARDWARE_CODECS[accel]
    if codec not in supported:
        raise TranscodeConfigError(
            "ffmpeg.targetVideoCodec",
            f"{accel.upper()} acceleration does not support the video codec {codec.upper()}; "
            f"it supports {', '.join(c.upper() for c in supported)}.")
    encoder = HARDWARE_ENCODER_CLASSES[(accel, bool(ffmpeg.accelDecode))](ffmpeg, interfaces)
    if accel in DRI_ACCELS:
        encoder.device()  # fails early, naming the setting, when there is no usable device
    return encoder


@dataclass
class SoftwareEncoder:
    """Immich's BaseConfig: libx264 and the shared rules."""

    ffmpeg: object
    interfaces: Interfaces = field(default_factory=Interfaces)
    label = "software"

    def command(self, target: str, video: VideoStream, audio: AudioStream | None) -> Command:
        output = [*self.base_output_options(target, video, audio), "-v", "verbose"]
        if target in ("all", "video"):
            filters = self.filters(video)
            if filters:
                output += ["-vf", ",".join(filters)]
        output += [*self.preset_options(), *self.output_thread_options(), *self.bitrate_options()]
        return Command(self.input_options(), output, self.eligible_for_two_pass(), self.label)

    # Options shared by every encoder.

    def input_options(self) -> list[str]:
        return self.input_thread_options()

    def base_output_options(self, target: str, video: VideoStream, audio: AudioStream | None) -> list[str]:
        video_codec = self.video_encoder() if target in ("all", "video") else "copy"
        audio_codec = AUDIO_ENCODERS[self.ffmpeg.targetAudioCodec] if target in ("all", "audio") else "copy"
        options = ["-c:v", video_codec, "-c:a", audio_codec, "-movflags", "faststart", "-fps_mode", "passthrough",
                   "-map", f"0:{video.index}", "-map_metadata", "-1"]
        if audio is not None:
            options += ["-map", f"0:{audio.index}"]
        if self.bframes() > -1:
            options += ["-bf", str(self.bframes())]
        if self.refs() > 0:
            options += ["-refs", str(self.refs())]
        if self.gop_size() > 0:
            options += ["-g", str(self.gop_size())]
        if self.ffmpeg.targetVideoCodec == "hevc" and (video_codec != "copy" or video.codec == "hevc"):
            options += ["-tag:v", "hvc1"]  # Apple players need hvc1
        return options

    def filters(self, video: VideoStream) -> list[str]:
        options = []
        if self.should_scale(video):
            options.append(f"scale={self.scaling(video)}")
        tonemap = self.tonemap(video)
        if tonemap:
            options += tonemap
        elif not video.pix_fmt.endswith("420p"):
            options.append("format=yuv420p")
        return options

    def preset_options(self) -> list[str]:
        return ["-preset", self.ffmpeg.preset]

    def bitrate_options(self) -> list[str]:
        bitrate = self.bitrate()
        quality = "-q:v" if self.use_cqp() else "-crf"
        if self.eligible_for_two_pass():
            return ["-b:v", bitrate.show(bitrate.target), "-minrate", bitrate.show(bitrate.min),
                    "-maxrate", bitrate.show(bitrate.max)]
        if bitrate.max > 0:
            # -maxrate caps the rolling average, -bufsize the peak.
            return [quality, str(self.ffmpeg.crf), "-maxrate", bitrate.show(bitrate.max),
                    "-bufsize", bitrate.show(bitrate.max * 2)]
        return [quality, str(self.ffmpeg.crf)]

    def input_thread_options(self) -> list[str]:
        return []

    def output_thread_options(self) -> list[str]:
        return ["-threads", str(self.ffmpeg.threads)] if self.ffmpeg.threads > 0 else []

    def eligible_for_two_pass(self) -> bool:
        return bool(self.ffmpeg.twoPass) and self.ffmpeg.accel == "disabled" and self.bitrate().max > 0

    # Building blocks.

    def video_encoder(self) -> str:
        return SOFTWARE_VIDEO_ENCODERS[self.ffmpeg.targetVideoCodec]

    def bitrate(self) -> Bitrate:
        return Bitrate.parse(self.ffmpeg.maxBitrate)

    def target_resolution(self, video: VideoStream) -> int:
        resolution = self.ffmpeg.targetResolution
        target = min(video.width, video.height) if resolution == "original" else int(resolution)
        return target - target % 2

    def should_scale(self, video: VideoStream) -> bool:
        odd = video.width % 2 != 0 or video.height % 2 != 0
        return odd or min(video.width, video.height) > self.target_resolution(video)

    def scaling(self, video: VideoStream, multiple: int = 2) -> str:
        """The short side to the target; the other side follows, a multiple of `multiple`. Rotated (±90°)
        video is vertical once ffmpeg's autorotate has turned it, so its width becomes the short side."""
        target = self.target_resolution(video)
        return f"{target}:-{multiple}" if self.is_vertical(video) else f"-{multiple}:{target}"

    @staticmethod
    def is_vertical(video: VideoStream) -> bool:
        return video.height > video.width or abs(video.rotation) == 90

    def should_tonemap(self, video: VideoStream) -> bool:
        return video.is_hdr and self.ffmpeg.tonemap != "disabled"

    def tonemap(self, video: VideoStream) -> list[str]:
        """CPU tone mapping to BT.709 8-bit 4:2:0 (Immich's tonemapx, here zscale + tonemap)."""
        if not self.should_tonemap(video):
            return []
        return [*tonemap_filters(self.ffmpeg.tonemap), "format=yuv420p"]

    def preset_index(self) -> int:
        return PRESETS.index(self.ffmpeg.preset) if self.ffmpeg.preset in PRESETS else -1

    def bframes(self) -> int:
        return self.ffmpeg.bframes

    def refs(self) -> int:
        return self.ffmpeg.refs

    def gop_size(self) -> int:
        return self.ffmpeg.gopSize

    def use_cqp(self) -> bool:
        return self.ffmpeg.cqMode == "cqp"


class H264Encoder(SoftwareEncoder):
    params_option = "-x264-params"

    def output_thread_options(self) -> list[str]:
        options = super().output_thread_options()
        if self.ffmpeg.threads == 1:
            options += [self.params_option, "frame-threads=1:pools=none"]
        return options


class HevcEncoder(H264Encoder):
    params_option = "-x265-params"


class Vp9Encoder(SoftwareEncoder):
    def preset_options(self) -> list[str]:
        speed = min(self.preset_index(), 5)  # above 5 needs realtime mode, which overrides -crf and -threads
        return ["-cpu-used", str(speed)] if speed >= 0 else []

    def bitrate_options(self) -> list[str]:
        bitrate = self.bitrate()
        if bitrate.max > 0 and self.eligible_for_two_pass():
            return ["-b:v", bitrate.show(bitrate.target), "-minrate", bitrate.show(bitrate.min),
                    "-maxrate", bitrate.show(bitrate.max)]
        return ["-q:v" if self.use_cqp() else "-crf", str(self.ffmpeg.crf), "-b:v", bitrate.show(bitrate.max)]

    def output_thread_options(self) -> list[str]:
        return ["-row-mt", "1", *super().output_thread_options()]

    def eligible_for_two_pass(self) -> bool:
        return bool(self.ffmpeg.twoPass)


class Av1Encoder(SoftwareEncoder):
    def preset_options(self) -> list[str]:
        return ["-preset", str(self.preset_index() + 4)] if self.preset_index() >= 0 else []  # 4 (slowest)..12

    def bitrate_options(self) -> list[str]:
        options = ["-crf", str(self.ffmpeg.crf)]
        bitrate = self.bitrate()
        params = []
        if self.ffmpeg.threads > 0:
            params.append(f"lp={self.ffmpeg.threads}")
        if bitrate.max > 0:
            params.append(f"mbr={bitrate.show(bitrate.max)}")
        if params:
            options += ["-svtav1-params", ":".join(params)]
        return options

    def output_thread_options(self) -> list[str]:
        return []  # in -svtav1-params

    def eligible_for_two_pass(self) -> bool:
        return bool(self.ffmpeg.twoPass)


SOFTWARE_ENCODER_CLASSES = {"h264": H264Encoder, "hevc": HevcEncoder, "vp9": Vp9Encoder, "av1": Av1Encoder}


class HardwareEncoder(SoftwareEncoder):
    """Immich's BaseHWConfig: `<codec>_<accel>` encoders, GOP 256 by default, a /dev/dri device."""

    decode = "software"

    @property
    def label(self) -> str:
        return f"{self.ffmpeg.accel.upper()} encoding, {self.decode} decoding"

    def video_encoder(self) -> str:
        return f"{self.ffmpeg.targetVideoCodec}_{self.ffmpeg.accel}"

    def gop_size(self) -> int:
        return self.ffmpeg.gopSize if self.ffmpeg.gopSize > 0 else HARDWARE_GOP_SIZE

    def device(self) -> str:
        devices = [name for name in self.interfaces.dri if name.startswith(("renderD", "card"))]
        preferred = self.ffmpeg.preferredHwDevice
        if preferred == "auto":
            if not devices:
                raise TranscodeConfigError(
                    "ffmpeg.accel", f"{self.ffmpeg.accel.upper()} needs a /dev/dri device and none was found. "
                    "If the server runs in a container, pass a /dev/dri device to it.")
            return f"/dev/dri/{max(devices)}"
        name = preferred.removeprefix("/dev/dri/")
        if name not in self.interfaces.dri:
            raise TranscodeConfigError(
                "ffmpeg.preferredHwDevice", f"The device /dev/dri/{name} does not exist. If the server runs in a "
                "container, pass this device to it.")
        return f"/dev/dri/{name}"


class NvencSwDecode(HardwareEncoder):
    def input_options(self) -> list[str]:
        return ["-init_hw_device", "cuda=cuda:0", "-filter_hw_device", "cuda"]

    def base_output_options(self, target, video, audio) -> list[str]:
        # NVIDIA's latency-tolerant high-quality settings.
        options = ["-tune", "hq", "-qmin", "0", "-rc-lookahead", "20", "-i_qfactor", "0.75",
                   *super().base_output_options(target, video, audio)]
        if self.bframes() > 0:
            options += ["-b_ref_mode", "middle", "-b_qfactor", "1.1"]
        if self.ffmpeg.temporalAQ:
            options += ["-temporal-aq", "1"]
        return options

    def filters(self, video: VideoStream) -> list[str]:
        options = [*self.tonemap(video), "hwupload_cuda"]
        if self.should_scale(video):
            options.append(f"scale_cuda={self.scaling(video)}:format=nv12")
        return options

    def preset_options(self) -> list[str]:
        index = self.preset_index()
        return ["-preset", f"p{7 - min(6, index)}"] if index >= 0 else []  # p7 is the best quality

    def bitrate_options(self) -> list[str]:
        bitrate = self.bitrate()
        if bitrate.max > 0 and self.ffmpeg.twoPass:
            return ["-b:v", bitrate.show(bitrate.target), "-maxrate", bitrate.show(bitrate.max),
                    "-bufsize", bitrate.show(bitrate.target), "-multipass", "2"]
        if bitrate.max > 0:
            return ["-cq:v", str(self.ffmpeg.crf), "-maxrate", bitrate.show(bitrate.max),
                    "-bufsize", bitrate.show(bitrate.target)]
        return ["-cq:v", str(self.ffmpeg.crf)]

    def refs(self) -> int:
        if 0 < self.bframes() < 3 and self.ffmpeg.refs < 3:
            return 0
        return self.ffmpeg.refs


class NvencHwDecode(NvencSwDecode):
    decode = "hardware"

    def input_options(self) -> list[str]:
        return ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda", "-noautorotate", *self.input_thread_options()]

    def filters(self, video: VideoStream) -> list[str]:
        options = []
        tonemap = self.tonemap(video)
        if self.should_scale(video) or (not tonemap and not video.pix_fmt.endswith("420p")):
            options.append(f"scale_cuda={self.scaling(video)}")
        options += tonemap
        if options:
            options[-1] += ":format=nv12"
        return options

    def tonemap(self, video: VideoStream) -> list[str]:
        if not self.should_tonemap(video):
            return []
        return [f"tonemap_cuda=desat=0:matrix=bt709:primaries=bt709:range=pc:tonemap={self.ffmpeg.tonemap}"
                ":tonemap_mode=lum:transfer=bt709:peak=100"]

    def input_thread_options(self) -> list[str]:
        return ["-threads", "1"]

    def output_thread_options(self) -> list[str]:
        return []


class QsvSwDecode(HardwareEncoder):
    def input_options(self) -> list[str]:
        return ["-init_hw_device", f"qsv=hw,child_device={self.device()}", "-filter_hw_device", "hw"]

    def base_output_options(self, target, video, audio) -> list[str]:
        options = super().base_output_options(target, video, audio)
        if self.ffmpeg.targetVideoCodec == "vp9":
            options += ["-low_power", "1"]  # QSV VP9 encodes only in low-power mode
        return options

    def filters(self, video: VideoStream) -> list[str]:
        options = [*self.tonemap(video), "hwupload=extra_hw_frames=64"]
        if self.should_scale(video):
            options.append(f"scale_qsv={self.scaling(video)}:mode=hq:format=nv12")
        return options

    def preset_options(self) -> list[str]:
        index = self.preset_index()
        return ["-preset", str(min(6, index) + 1)] if index >= 0 else []

    def bitrate_options(self) -> list[str]:
        options = ["-q:v" if self.use_cqp() else "-global_quality:v", str(self.ffmpeg.crf)]
        bitrate = self.bitrate()
        if bitrate.max > 0:
            options += ["-maxrate", bitrate.show(bitrate.max), "-bufsize", bitrate.show(bitrate.max * 2)]
        return options

    def bframes(self) -> int:
        return 7 if self.ffmpeg.bframes < 0 else self.ffmpeg.bframes  # Intel's recommendation

    def refs(self) -> int:
        return 5 if self.ffmpeg.refs <= 0 else self.ffmpeg.refs

    def use_cqp(self) -> bool:
        return self.ffmpeg.cqMode == "cqp" or self.ffmpeg.targetVideoCodec == "vp9"

    def scaling(self, video: VideoStream, multiple: int = 2) -> str:
        return super().scaling(video, 1)  # scale_qsv rounds itself


def _opencl_tonemap(ffmpeg, derive: str) -> list[str]:
    options = f"desat=0:format=nv12:matrix=bt709:primaries=bt709:transfer=bt709:range=pc:tonemap={ffmpeg.tonemap}" \
              ":tonemap_mode=lum:peak=100"
    return ["hwmap=derive_device=opencl", f"tonemap_opencl={options}",
            f"hwmap=derive_device={derive}:reverse=1,format={derive}"]


class HardwareDecodeOnDevice:
    """QSV and VAAPI hardware decoding: frames stay on the device, so scaling (and the conversion of
    non-4:2:0 sources to nv12 when there is no tone-mapping) uses the API's own scale filter, and
    tone-mapping goes through OpenCL."""
    decode = "hardware"
    api = ""  # "qsv" or "vaapi"
    scale_options = ""

    def filters(self, video: VideoStream) -> list[str]:
        scale = f"scale_{self.api}={self.scaling(video)}:{self.scale_options}"
        tonemap = self.tonemap(video)
        if not tonemap and not video.pix_fmt.endswith("420p"):
            return [f"{scale}:format=nv12"]
        return ([scale] if self.should_scale(video) else []) + tonemap

    def tonemap(self, video: VideoStream) -> list[str]:
        return _opencl_tonemap(self.ffmpeg, self.api) if self.should_tonemap(video) else []

    def input_thread_options(self) -> list[str]:
        return ["-threads", "1"]


class QsvHwDecode(HardwareDecodeOnDevice, QsvSwDecode):
    api = "qsv"
    scale_options = "async_depth=4:mode=hq"

    def input_options(self) -> list[str]:
        return ["-hwaccel", "qsv", "-hwaccel_output_format", "qsv", "-async_depth", "4", "-noautorotate",
                "-qsv_device", self.device(), *self.input_thread_options()]


class VaapiSwDecode(HardwareEncoder):
    def input_options(self) -> list[str]:
        return ["-init_hw_device", f"vaapi=accel:{self.device()}", "-filter_hw_device", "accel"]

    def filters(self, video: VideoStream) -> list[str]:
        options = [*self.tonemap(video), "hwupload=extra_hw_frames=64"]
        if self.should_scale(video):
            options.append(f"scale_vaapi={self.scaling(video)}:mode=hq:out_range=pc:format=nv12")
        return options

    def preset_options(self) -> list[str]:
        index = self.preset_index()
        return ["-compression_level", str(min(6, index) + 1)] if index >= 0 else []

    def bitrate_options(self) -> list[str]:
        bitrate = self.bitrate()
        options = ["-bsf:v", "vp9_raw_reorder,vp9_superframe"] if self.ffmpeg.targetVideoCodec == "vp9" else []
        if bitrate.max > 0:  # VAAPI cannot combine a quality and a maximum bitrate: VBR
            return options + ["-b:v", bitrate.show(bitrate.target), "-maxrate", bitrate.show(bitrate.max),
                              "-minrate", bitrate.show(bitrate.min), "-rc_mode", "3"]
        crf = str(self.ffmpeg.crf)
        if self.use_cqp():
            return options + ["-qp:v", crf, "-global_quality:v", crf, "-rc_mode", "1"]
        return options + ["-global_quality:v", crf, "-rc_mode", "4"]

    def use_cqp(self) -> bool:
        return self.ffmpeg.cqMode != "icq" or self.ffmpeg.targetVideoCodec == "vp9"


class VaapiHwDecode(HardwareDecodeOnDevice, VaapiSwDecode):
    api = "vaapi"
    scale_options = "mode=hq:out_range=pc"

    def input_options(self) -> list[str]:
        return ["-hwaccel", "vaapi", "-hwaccel_output_format", "vaapi", "-noautorotate",
                "-hwaccel_device", self.device(), *self.input_thread_options()]


class RkmppSwDecode(HardwareEncoder):
    def eligible_for_two_pass(self) -> bool:
        return False

    def input_options(self) -> list[str]:
        return []

    def preset_options(self) -> list[str]:
        return ["-level", "51" if self.ffmpeg.targetVideoCodec == "h264" else "153"]  # level 5.1

    def bitrate_options(self) -> list[str]:
        bitrate = self.bitrate()
        if bitrate.max > 0:  # -b:v is the maximum; the average follows
            return ["-rc_mode", "AVBR", "-b:v", bitrate.show(bitrate.max)]
        return ["-rc_mode", "CQP", "-qp_init", str(self.ffmpeg.crf)]


class RkmppHwDecode(RkmppSwDecode):
    decode = "hardware"

    def input_options(self) -> list[str]:
        return ["-hwaccel", "rkmpp", "-hwaccel_output_format", "drm_prime", "-afbc", "rga", "-noautorotate"]

    def filters(self, video: VideoStream) -> list[str]:
        if self.should_tonemap(video):
            scale = f"scale_rkrga={self.scaling(video)}:format=p010:afbc=1:async_depth=4"
            if self.interfaces.mali:  # RGA scales, OpenCL tone maps
                return [scale, "hwmap=derive_device=opencl:mode=read",
                        "tonemap_opencl=format=nv12:r=pc:p=bt709:t=bt709:m=bt709:"
                        f"tonemap={self.ffmpeg.tonemap}:desat=0:tonemap_mode=lum:peak=100",
                        "hwmap=derive_device=rkmpp:mode=write:reverse=1", "format=drm_prime"]
            # RGA scales, the CPU tone maps (10-bit output: RK3588 only).
            return [scale, "hwdownload", "format=p010", *SoftwareEncoder.tonemap(self, video), "hwupload"]
        if self.should_scale(video):
            return [f"scale_rkrga={self.scaling(video)}:format=nv12:afbc=1:async_depth=4"]
        return []


HARDWARE_ENCODER_CLASSES = {
    ("nvenc", False): NvencSwDecode, ("nvenc", True): NvencHwDecode,
    ("qsv", False): QsvSwDecode, ("qsv", True): QsvHwDecode,
    ("vaapi", False): VaapiSwDecode, ("vaapi", True): VaapiHwDecode,
    ("rkmpp", False): RkmppSwDecode, ("rkmpp", True): RkmppHwDecode,
}
