"""The transcode decision and ffmpeg arguments as a pure function of (probe, settings, hardware), rule by
rule as Immich's media.service.ts / utils/media.ts; expected lists are written out by hand."""

import pytest

from media_app.services.transcode_command import (
    AudioStream,
    Interfaces,
    TranscodeConfigError,
    VideoProbe,
    VideoStream,
    build_command,
    decide,
)
from settings_app.services import config_with

MOV = ("mov,mp4,m4a,3gp,3g2,mj2", "QuickTime / MOV")
H264_1080 = VideoProbe(*MOV, 10.0, VideoStream(0, "h264", 1920, 1080, "yuv420p", "bt709", 0, 8_000_000),
                       AudioStream(1, "aac", 128_000))
H264_360 = VideoProbe(*MOV, 3.0, VideoStream(0, "h264", 640, 360, bitrate=800_000), AudioStream(1, "aac"))
HEVC_HDR = VideoProbe(*MOV, 2.0, VideoStream(0, "hevc", 3840, 2160, "yuv420p10le", "smpte2084", 0, 20_000_000))
ROTATED = VideoProbe(*MOV, 3.0, VideoStream(0, "hevc", 1920, 1080, rotation=-90), AudioStream(1, "aac"))
WEBM_VP9 = VideoProbe("matroska,webm", "Matroska / WebM", 3.0, VideoStream(0, "vp9", 640, 360),
                      AudioStream(1, "opus"))
AVI_MP3 = VideoProbe("avi", "AVI (Audio Video Interleaved)", 1.0, VideoStream(0, "mpeg4", 320, 240),
                     AudioStream(1, "mp3"))
AVI_H264_PCM = VideoProbe("avi", "AVI (Audio Video Interleaved)", 1.0, VideoStream(0, "h264", 320, 240),
                          AudioStream(1, "pcm_s16le"))
DRI = Interfaces(dri=("card0", "renderD128", "renderD129"))

BASE = ["-movflags", "faststart", "-fps_mode", "passthrough", "-map", "0:0", "-map_metadata", "-1"]


def ffmpeg(**values):
    return config_with({f"ffmpeg.{key}": value for key, value in values.items()}).ffmpeg


def command(probe, interfaces=DRI, **values):
    settings = ffmpeg(**values)
    return build_command(probe, decide(probe, settings), settings, interfaces)


# --- Decision ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("probe", "policy", "target", "remux"), [
    (H264_360, "required", "none", False),
    (H264_1080, "required", "none", False),
    (H264_1080, "optimal", "video", False),  # 1080 > 720
    (H264_360, "optimal", "none", False),
    (H264_1080, "all", "all", False),
    (H264_360, "disabled", "none", False),
    (HEVC_HDR, "required", "video", False),
    (HEVC_HDR, "disabled", "none", False),
    (WEBM_VP9, "required", "video", False),  # vp9 not accepted; opus is
    (AVI_MP3, "required", "video", False),  # mpeg4 not accepted; mp3 is
    (AVI_H264_PCM, "required", "audio", False),
])
def test_policy_decides_which_streams_are_reencoded(probe, policy, target, remux):
    decision = decide(probe, ffmpeg(transcode=policy))
    assert (decision.target, decision.remux) == (target, remux)
    assert decision.reasons


def test_bitrate_policy_compares_the_stream_bitrate_with_k_and_m_units():
    assert decide(H264_1080, ffmpeg(transcode="bitrate", maxBitrate="10M")).target == "none"
    assert decide(H264_1080, ffmpeg(transcode="bitrate", maxBitrate="5M")).target == "video"
    assert decide(H264_1080, ffmpeg(transcode="bitrate", maxBitrate="7999k")).target == "video"
    assert decide(H264_1080, ffmpeg(transcode="bitrate", maxBitrate="8000")).target == "none"  # kbit/s
    assert decide(H264_1080, ffmpeg(transcode="bitrate", maxBitrate="0")).target == "none"  # no limit


def test_original_resolution_never_counts_as_too_large():
    assert decide(H264_1080, ffmpeg(transcode="optimal", targetResolution="original")).target == "none"


def test_accepted_codec_lists_and_auto_appended_targets():
    assert decide(ROTATED, ffmpeg(acceptedVideoCodecs=["h264", "hevc"])).target == "none"
    # The target codec is always accepted: hevc as target accepts hevc sources.
    assert decide(ROTATED, ffmpeg(targetVideoCodec="hevc")).target == "none"
    assert decide(AVI_MP3, ffmpeg(acceptedVideoCodecs=["mpeg4"], acceptedAudioCodecs=["aac"])).target == "audio"


def test_remux_only_when_just_the_container_is_unaccepted():
    accepted = ffmpeg(acceptedVideoCodecs=["h264", "vp9"])
    assert (decide(WEBM_VP9, accepted).target, decide(WEBM_VP9, accepted).remux) == ("none", False)
    refused = ffmpeg(acceptedVideoCodecs=["h264", "vp9"], acceptedContainers=["mov"])
    decision = decide(WEBM_VP9, refused)
    assert (decision.target, decision.remux, decision.kind) == ("none", True, "remux")
    assert any("container webm" in reason for reason in decision.reasons)
    # MP4 files are seen as "mov": refusing mov remuxes them too, mp4 is always accepted by name.
    assert decide(H264_360, ffmpeg(acceptedContainers=["webm"])).remux
    assert not decide(H264_360, ffmpeg(acceptedContainers=["mov"])).remux
    assert not decide(WEBM_VP9, ffmpeg(transcode="disabled", acceptedContainers=["mov"])).remux


def test_remux_command_copies_both_streams():
    settings = ffmpeg(acceptedVideoCodecs=["h264", "vp9"], acceptedContainers=["mov"])
    cmd = build_command(WEBM_VP9, decide(WEBM_VP9, settings), settings)
    assert cmd.output_options == ["-c:v", "copy", "-c:a", "copy", *BASE, "-map", "0:1", "-v", "verbose",
                                  "-preset", "ultrafast", "-crf", "23"]


def test_audio_only_copies_the_video_and_has_no_filters():
    cmd = command(AVI_H264_PCM)
    assert cmd.output_options == ["-c:v", "copy", "-c:a", "aac", *BASE, "-map", "0:1", "-v", "verbose",
                                  "-preset", "ultrafast", "-crf", "23"]


# --- Software encoders -------------------------------------------------------------------------------


def test_h264_defaults_scale_to_720():
    cmd = command(H264_1080, transcode="all")
    assert cmd.input_options == []
    assert cmd.output_options == ["-c:v", "libx264", "-c:a", "aac", *BASE, "-map", "0:1", "-v", "verbose",
                                  "-vf", "scale=-2:720", "-preset", "ultrafast", "-crf", "23"]
    assert not cmd.two_pass


def test_no_scale_when_the_video_is_already_small_enough():
    cmd = command(H264_360, transcode="all")
    assert "-vf" not in cmd.output_options


def test_original_resolution_scales_only_odd_sizes():
    odd = VideoProbe(*MOV, 1.0, VideoStream(0, "mpeg4", 641, 361))
    assert "-vf" not in command(H264_1080, transcode="all", targetResolution="original").output_options
    cmd = command(odd, targetResolution="original")
    assert cmd.output_options[cmd.output_options.index("-vf") + 1] == "scale=-2:360"


def test_rotated_and_vertical_video_scales_its_width():
    cmd = command(ROTATED)
    assert cmd.output_options[cmd.output_options.index("-vf") + 1] == "scale=720:-2"
    portrait = VideoProbe(*MOV, 1.0, VideoStream(0, "hevc", 1080, 1920))
    assert command(portrait).output_options[command(portrait).output_options.index("-vf") + 1] == "scale=720:-2"


def test_hdr_is_tone_mapped_with_zscale_and_tonemap():
    cmd = command(HEVC_HDR, tonemap="mobius")
    assert cmd.output_options == [
        "-c:v", "libx264", "-c:a", "copy", *BASE, "-v", "verbose", "-vf",
        "scale=-2:720,zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=mobius:desat=0,"
        "zscale=t=bt709:m=bt709:r=pc,format=yuv420p",
        "-preset", "ultrafast", "-crf", "23"]


def test_ten_bit_without_tone_mapping_is_converted_to_yuv420p():
    cmd = command(HEVC_HDR, tonemap="disabled", targetResolution="original")
    assert cmd.output_options[cmd.output_options.index("-vf") + 1] == "format=yuv420p"


def test_h264_options_bframes_refs_gop_threads_and_max_bitrate():
    cmd = command(H264_1080, transcode="all", bframes=3, refs=4, gopSize=120, threads=1, maxBitrate="5M",
                  preset="medium", crf=30)
    assert cmd.output_options == [
        "-c:v", "libx264", "-c:a", "aac", *BASE, "-map", "0:1", "-bf", "3", "-refs", "4", "-g", "120",
        "-v", "verbose", "-vf", "scale=-2:720", "-preset", "medium", "-threads", "1",
        "-x264-params", "frame-threads=1:pools=none", "-crf", "30", "-maxrate", "5M", "-bufsize", "10M"]


def test_h264_cqp_uses_q_v():
    assert command(H264_1080, transcode="all", cqMode="cqp").output_options[-2:] == ["-q:v", "23"]


def test_h264_two_pass_needs_a_max_bitrate():
    cmd = command(H264_1080, transcode="all", twoPass=True, maxBitrate="4500")
    assert cmd.two_pass
    assert cmd.output_options[-6:] == ["-b:v", "3104k", "-minrate", "1552k", "-maxrate", "4500k"]
    assert not command(H264_1080, transcode="all", twoPass=True).two_pass
    passes = cmd.passes("ffmpeg", "in.mov", "out.mp4")
    assert passes[0][-7:] == ["-pass", "1", "-passlogfile", "out.mp4", "-f", "null", "/dev/null"]
    assert passes[1][-5:] == ["-pass", "2", "-passlogfile", "out.mp4", "out.mp4"]


def test_hevc_gets_the_hvc1_tag_and_x265_threads():
    cmd = command(H264_1080, transcode="all", targetVideoCodec="hevc", threads=1)
    assert cmd.output_options == [
        "-c:v", "libx265", "-c:a", "aac", *BASE, "-map", "0:1", "-tag:v", "hvc1", "-v", "verbose",
        "-vf", "scale=-2:720", "-preset", "ultrafast", "-threads", "1", "-x265-params", "frame-threads=1:pools=none",
        "-crf", "23"]
    # Copying an HEVC stream into MP4 also tags it hvc1.
    remux = command(ROTATED, targetVideoCodec="hevc", acceptedContainers=["webm"])
    assert remux.output_options[:2] == ["-c:v", "copy"] and "hvc1" in remux.output_options


def test_vp9_preset_crf_and_two_pass():
    cmd = command(H264_1080, transcode="all", targetVideoCodec="vp9", targetAudioCodec="opus", preset="slow",
                  threads=2)
    assert cmd.output_options == [
        "-c:v", "libvpx-vp9", "-c:a", "libopus", *BASE, "-map", "0:1", "-v", "verbose", "-vf", "scale=-2:720",
        "-cpu-used", "2", "-row-mt", "1", "-threads", "2", "-crf", "23", "-b:v", "0k"]
    assert command(H264_1080, transcode="all", targetVideoCodec="vp9").output_options[-8:-6] == ["-cpu-used", "5"]
    two_pass = command(H264_1080, transcode="all", targetVideoCodec="vp9", twoPass=True, maxBitrate="3M")
    assert two_pass.two_pass and two_pass.output_options[-6:] == ["-b:v", "3M", "-minrate", "1.5M", "-maxrate", "3M"]
    assert command(H264_1080, transcode="all", targetVideoCodec="vp9", twoPass=True).two_pass  # CRF two-pass


def test_av1_preset_and_svt_params():
    cmd = command(H264_1080, transcode="all", targetVideoCodec="av1", preset="veryslow", threads=4,
                  maxBitrate="2M")
    assert cmd.output_options == [
        "-c:v", "libsvtav1", "-c:a", "aac", *BASE, "-map", "0:1", "-v", "verbose", "-vf", "scale=-2:720",
        "-preset", "4", "-crf", "23", "-svtav1-params", "lp=4:mbr=2M"]


# --- Hardware encoders -------------------------------------------------------------------------------


def test_nvenc_software_decode():
    cmd = command(H264_1080, transcode="all", accel="nvenc", accelDecode=False, bframes=2, temporalAQ=True,
                  maxBitrate="6000k", refs=2)
    assert cmd.input_options == ["-init_hw_device", "cuda=cuda:0", "-filter_hw_device", "cuda"]
    assert cmd.output_options == [
        "-tune", "hq", "-qmin", "0", "-rc-lookahead", "20", "-i_qfactor", "0.75",
        "-c:v", "h264_nvenc", "-c:a", "aac", *BASE, "-map", "0:1", "-bf", "2", "-g", "256",
        "-b_ref_mode", "middle", "-b_qfactor", "1.1", "-temporal-aq", "1", "-v", "verbose",
        "-vf", "hwupload_cuda,scale_cuda=-2:720:format=nv12", "-preset", "p1",
        "-cq:v", "23", "-maxrate", "6000k", "-bufsize", "4138k"]
    assert not cmd.two_pass


def test_nvenc_hardware_decode_tone_maps_on_the_gpu():
    cmd = command(HEVC_HDR, accel="nvenc", targetVideoCodec="hevc", twoPass=True, maxBitrate="10M")
    assert cmd.input_options == ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda", "-noautorotate",
                                 "-threads", "1"]
    vf = cmd.output_options[cmd.output_options.index("-vf") + 1]
    assert vf == ("scale_cuda=-2:720,tonemap_cuda=desat=0:matrix=bt709:primaries=bt709:range=pc:tonemap=hable"
                  ":tonemap_mode=lum:transfer=bt709:peak=100:format=nv12")
    assert cmd.output_options[-8:] == ["-b:v", "7M", "-maxrate", "10M", "-bufsize", "7M", "-multipass", "2"]


def test_qsv_defaults_device_and_vp9_low_power():
    cmd = command(H264_1080, transcode="all", accel="qsv", accelDecode=False, targetVideoCodec="vp9",
                  preset="medium", maxBitrate="4M")
    assert cmd.input_options == ["-init_hw_device", "qsv=hw,child_device=/dev/dri/renderD129",
                                 "-filter_hw_device", "hw"]
    assert cmd.output_options == [
        "-c:v", "vp9_qsv", "-c:a", "aac", *BASE, "-map", "0:1", "-bf", "7", "-refs", "5", "-g", "256",
        "-low_power", "1", "-v", "verbose", "-vf", "hwupload=extra_hw_frames=64,scale_qsv=-1:720:mode=hq:format=nv12",
        "-preset", "4", "-q:v", "23", "-maxrate", "4M", "-bufsize", "8M"]


def test_qsv_hardware_decode_with_preferred_device_and_opencl_tone_mapping():
    cmd = command(HEVC_HDR, accel="qsv", preferredHwDevice="/dev/dri/renderD128", cqMode="icq")
    assert cmd.input_options == ["-hwaccel", "qsv", "-hwaccel_output_format", "qsv", "-async_depth", "4",
                                 "-noautorotate", "-qsv_device", "/dev/dri/renderD128", "-threads", "1"]
    vf = cmd.output_options[cmd.output_options.index("-vf") + 1]
    assert vf == ("scale_qsv=-1:720:async_depth=4:mode=hq,hwmap=derive_device=opencl,tonemap_opencl=desat=0:"
                  "format=nv12:matrix=bt709:primaries=bt709:transfer=bt709:range=pc:tonemap=hable:tonemap_mode=lum:"
                  "peak=100,hwmap=derive_device=qsv:reverse=1,format=qsv")
    assert cmd.output_options[-2:] == ["-global_quality:v", "23"]


def test_vaapi_software_decode_cqp_icq_and_vbr():
    cmd = command(H264_1080, transcode="all", accel="vaapi", accelDecode=False)
    assert cmd.input_options == ["-init_hw_device", "vaapi=accel:/dev/dri/renderD129", "-filter_hw_device", "accel"]
    assert cmd.output_options == [
        "-c:v", "h264_vaapi", "-c:a", "aac", *BASE, "-map", "0:1", "-g", "256", "-v", "verbose",
        "-vf", "hwupload=extra_hw_frames=64,scale_vaapi=-2:720:mode=hq:out_range=pc:format=nv12",
        "-compression_level", "7", "-qp:v", "23", "-global_quality:v", "23", "-rc_mode", "1"]
    icq = command(H264_1080, transcode="all", accel="vaapi", accelDecode=False, cqMode="icq")
    assert icq.output_options[-4:] == ["-global_quality:v", "23", "-rc_mode", "4"]
    vbr = command(H264_1080, transcode="all", accel="vaapi", accelDecode=False, maxBitrate="2900k",
                  targetVideoCodec="vp9")
    assert vbr.output_options[-10:] == ["-bsf:v", "vp9_raw_reorder,vp9_superframe", "-b:v", "2000k",
                                        "-maxrate", "2900k", "-minrate", "1000k", "-rc_mode", "3"]


def test_vaapi_hardware_decode_converts_ten_bit_on_the_gpu():
    cmd = command(HEVC_HDR, accel="vaapi", tonemap="disabled", targetResolution="original")
    assert cmd.input_options == ["-hwaccel", "vaapi", "-hwaccel_output_format", "vaapi", "-noautorotate",
                                 "-hwaccel_device", "/dev/dri/renderD129", "-threads", "1"]
    vf = cmd.output_options[cmd.output_options.index("-vf") + 1]
    assert vf == "scale_vaapi=-2:2160:mode=hq:out_range=pc:format=nv12"


def test_rkmpp_levels_rate_control_and_cpu_tone_mapping():
    sw = command(H264_1080, transcode="all", accel="rkmpp", accelDecode=False, twoPass=True, maxBitrate="8M")
    assert sw.input_options == [] and not sw.two_pass
    assert sw.output_options[-5:] == ["-level", "51", "-rc_mode", "AVBR", "-b:v", "8M"][-5:]
    hevc = command(H264_1080, transcode="all", accel="rkmpp", accelDecode=False, targetVideoCodec="hevc")
    assert hevc.output_options[-6:] == ["-level", "153", "-rc_mode", "CQP", "-qp_init", "23"]
    hw = command(HEVC_HDR, accel="rkmpp")
    assert hw.input_options == ["-hwaccel", "rkmpp", "-hwaccel_output_format", "drm_prime", "-afbc", "rga",
                                "-noautorotate"]
    vf = hw.output_options[hw.output_options.index("-vf") + 1]
    assert vf.startswith("scale_rkrga=-2:720:format=p010:afbc=1:async_depth=4,hwdownload,format=p010,zscale=")
    assert vf.endswith("format=yuv420p,hwupload")
    mali = command(HEVC_HDR, interfaces=Interfaces(dri=("renderD128",), mali=True), accel="rkmpp")
    assert "tonemap_opencl=format=nv12:r=pc:p=bt709:t=bt709:m=bt709:tonemap=hable" in mali.output_options[
        mali.output_options.index("-vf") + 1]


@pytest.mark.parametrize(("accel", "codec"), [("nvenc", "vp9"), ("rkmpp", "vp9"), ("rkmpp", "av1")])
def test_unsupported_codec_for_the_accel_is_named(accel, codec):
    with pytest.raises(TranscodeConfigError, match=f"{accel.upper()} acceleration does not support the video "
                                                   f"codec {codec.upper()}") as error:
        command(H264_1080, transcode="all", accel=accel, targetVideoCodec=codec)
    assert error.value.path == "ffmpeg.targetVideoCodec"


@pytest.mark.parametrize("accel", ["vaapi", "qsv", "rkmpp"])
def test_missing_dev_dri_is_named(accel):
    with pytest.raises(TranscodeConfigError, match="needs a /dev/dri device and none was found"):
        command(H264_1080, interfaces=Interfaces(), transcode="all", accel=accel)
    with pytest.raises(TranscodeConfigError, match="/dev/dri/renderD130 does not exist") as error:
        command(H264_1080, transcode="all", accel=accel, preferredHwDevice="renderD130")
    assert error.value.path == "ffmpeg.preferredHwDevice"


def test_nvenc_needs_no_dev_dri():
    assert command(H264_1080, interfaces=Interfaces(), transcode="all", accel="nvenc").output_options[9] == "h264_nvenc"
