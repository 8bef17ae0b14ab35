"""Thumbnail generation (Immich's AssetGenerateThumbnails) following the Image settings, read at every run.

Per image the original is decoded once — JPEGs with DCT scaling (`draft`) straight to the smallest scale
that still covers the largest output — turned upright from its EXIF orientation, colour-converted, and then
every output (preview, thumbnail, thumbhash, optional full size) is resized from that one image. Outputs are
encoded in memory first and then written to a temporary file and renamed, so a failure never leaves a
half-written or half-updated set. Videos: ffmpeg picks a representative frame (Immich's filter chain), tone
maps HDR, and the frame goes through the same output path."""

import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import av
import thumbhash as thumbhash_codec
from django.conf import settings as django_settings
from django.utils import timezone
from PIL import Image, ImageCms

from settings_app.services import get_config

from ..formats import is_web_image
from ..models import Asset, AssetType
from . import ffmpeg, icc
from .imaging import BadMediaFile, check_readable, load_pixels, open_image

log = logging.getLogger(__name__)

THUMBHASH_MAX_SIDE = 100
# Near 1:1 (e.g. a JPEG decoded at 1/2 scale to 2000x1500 for a 1920x1440 preview) bicubic and Lanczos
# give visually identical results, and bicubic's 4 taps cost two thirds of Lanczos' 6. Stronger
# reductions use Lanczos (sharp's default kernel) after an integer box reduction (`reduce()`, a true area
# average) down to 1.5x the target: 1920x1440 -> 333x250 takes 5-9 ms instead of 30 ms with Lanczos alone.
NEAR_ONE_TO_ONE = 0.8
REDUCING_GAP = 1.5
WEBP_METHOD = 4  # libwebp's default effort
EXTENSIONS = {"jpeg": "jpeg", "webp": "webp"}
PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP"}
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# ffmpeg's AVColorTransferCharacteristic values that mean HDR (PQ and HLG).
HDR_TRANSFER_CODES = frozenset({16, 18})


# --- Settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSpec:
    kind: str  # "preview", "thumbnail" or "fullsize"
    format: str  # "jpeg" or "webp"
    size: int | None  # length of the shorter side; None = the original size
    quality: int
    progressive: bool


@dataclass(frozen=True)
class ImageSettings:
    """The Image settings (and the video tone mapping) that one generation run uses."""

    preview: OutputSpec
    thumbnail: OutputSpec
    fullsize: OutputSpec | None  # None when full-size generation is disabled
    colorspace: str  # "p3" or "srgb"
    tonemap: str = "hable"

    @classmethod
    def from_config(cls, config) -> "ImageSettings":
        image = config.image

        def spec(kind, section, size):
            return OutputSpec(kind, section.format, size, section.quality, section.progressive)

        return cls(
            preview=spec("preview", image.preview, image.preview.size),
            thumbnail=spec("thumbnail", image.thumbnail, image.thumbnail.size),
            fullsize=spec("fullsize", image.fullsize, None) if image.fullsize.enabled else None,
            colorspace=image.colorspace,
            tonemap=config.ffmpeg.tonemap,
        )


@dataclass
class RenderedFile:
    kind: str
    path: Path
    width: int
    height: int
    format: str
    data: bytes = field(repr=False)


@dataclass
class RenderResult:
    files: dict[str, RenderedFile]
    thumbhash: bytes
    colorspace: str  # the ICC profile the outputs carry: "p3" or "srgb"


# --- Decoding ----------------------------------------------------------------------------------------


def _fit_short_side(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """Scale so the shorter side is `short_side`, never upscaling (Immich: fit outside, no enlargement)."""
    shorter = min(width, height)
    if short_side is None or short_side >= shorter:
        return width, height
    scale = short_side / shorter
    if width <= height:
        return short_side, max(1, round(height * scale))
    return max(1, round(width * scale)), short_side


def decode_image(path, short_side: int | None) -> tuple[Image.Image, bytes | None]:
    """Decode upright, at the smallest JPEG DCT scale (or integer reduction for other formats) whose
    shorter side still covers `short_side` (None = full resolution). Returns the image (RGB, RGBA or
    CMYK) and its embedded ICC profile."""
    image = open_image(path)
    try:
        orientation = image.getexif().get(0x0112)
        if image.format == "JPEG" and short_side is not None:
            width, height = image.size
            upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
            target = _fit_short_side(*upright, short_side)
            stored = (target[1], target[0]) if orientation in (5, 6, 7, 8) else target
            image.draft("RGB" if image.mode in ("RGB", "YCbCr") else image.mode, stored)
        load_pixels(image, path)
        # Only colour profiles describe colours worth converting; a grey profile on a grey image is moot.
        icc_profile = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "CMYK", "P", "PA") else None
        image = _reduce_to_cover(_normalise_mode(image), short_side)
        if orientation in ORIENTATION_TRANSPOSE:
            image = image.transpose(ORIENTATION_TRANSPOSE[orientation])
        return image, icc_profile
    except BadMediaFile:
        image.close()
        raise
    except (OSError, ValueError, SyntaxError) as error:
        image.close()
        raise BadMediaFile(path, f"corrupt image data ({error})")


def _reduce_to_cover(image: Image.Image, short_side: int | None) -> Image.Image:
    """Formats without DCT scaling (PNG, WebP, HEIC...) decode at full size: a box reduction by the largest
    integer factor that still covers `short_side` (a true area average, premultiplied for alpha) does what
    `draft` does for JPEGs, so the resizes that follow start from about the same size whatever the format."""
    factor = min(image.size) // short_side if short_side else 1
    return image.reduce(factor) if factor > 1 else image


def _normalise_mode(image: Image.Image) -> Image.Image:
    """To 8-bit RGB/RGBA (CMYK is kept for its ICC transform). Fully opaque alpha is dropped."""
    mode = image.mode
    if mode in ("RGB", "CMYK"):
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "1") and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    if has_alpha and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB")
    return image


# --- Colour ------------------------------------------------------------------------------------------


def profile_description(icc_profile: bytes | None) -> str:
    if not icc_profile:
        return ""
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))).strip()
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return ""


def is_srgb(icc_profile: bytes | None) -> bool:
    """Immich's rule: untagged (8-bit) images are sRGB, and so is any profile whose description says
    sRGB. An unreadable profile is treated as absent."""
    description = profile_description(icc_profile)
    return not description or "srgb" in description.lower()


@lru_cache(maxsize=32)
def _transform(source_profile: bytes, in_mode: str, out_mode: str, target: str):
    source = ImageCms.ImageCmsProfile(io.BytesIO(source_profile))
    return ImageCms.buildTransform(source, icc.profile(target), in_mode, out_mode,
                                   renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)


def convert_colour(image: Image.Image, icc_profile: bytes | None, colorspace: str) -> tuple[Image.Image, str]:
    """Apply the "Prefer wide gamut" rule. Returns the image in RGB/RGBA and the profile it is now in:
    sRGB (and untagged) images stay sRGB; others go to Display P3 when colorspace is "p3", else to sRGB."""
    if is_srgb(icc_profile):
        return (image.convert("RGB") if image.mode == "CMYK" else image), "srgb"
    target = "p3" if colorspace == "p3" else "srgb"
    out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        transform = _transform(icc_profile, image.mode, out_mode, target)
        return ImageCms.applyTransform(image, transform), target
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A profile lcms cannot use (or that does not match the pixel layout): keep the numbers as sRGB.
        log.warning("unusable ICC profile %r; treating the image as sRGB", profile_description(icc_profile))
        return (image.convert("RGB") if image.mode == "CMYK" else image), "srgb"


# --- Outputs -----------------------------------------------------------------------------------------


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if size == image.size:
        return image
    if size[0] / image.width >= NEAR_ONE_TO_ONE:
        return image.resize(size, Image.Resampling.BICUBIC)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: transparent areas become white."""
    if image.mode == "RGB":
        return image
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def encode(image: Image.Image, spec: OutputSpec, icc_profile: bytes) -> bytes:
    """Encode with the spec's format and quality. JPEG: 4:4:4 chroma at quality >= 80 (4:2:0 below, as
    Immich), progressive when asked. WebP lossy is 4:2:0 by design; `progressive` applies to JPEG only."""
    buffer = io.BytesIO()
    if spec.format == "jpeg":
        _flatten(image).save(buffer, "JPEG", quality=spec.quality, subsampling=0 if spec.quality >= 80 else 2,
                             progressive=spec.progressive, icc_profile=icc_profile)
    elif spec.format == "webp":
        image.save(buffer, "WEBP", quality=spec.quality, method=WEBP_METHOD, icc_profile=icc_profile)
    else:
        raise ValueError(f"unsupported output format {spec.format!r}")
    return buffer.getvalue()


def compute_thumbhash(image: Image.Image, colorspace: str) -> bytes:
    """ThumbHash of the image fit inside 100x100, in sRGB (the colours a browser paints it with)."""
    small = image.copy()
    small.thumbnail((THUMBHASH_MAX_SIDE, THUMBHASH_MAX_SIDE), Image.Resampling.BILINEAR)
    if colorspace != "srgb":
        mode = "RGBA" if small.mode == "RGBA" else "RGB"
        small = ImageCms.applyTransform(small, _transform(icc.icc_bytes(colorspace), mode, mode, "srgb"))
    rgba = small.convert("RGBA")
    return thumbhash_codec.rgba_to_thumb_hash(rgba.width, rgba.height, rgba.tobytes())


def output_path(folder, stem: str, spec: OutputSpec) -> Path:
    return Path(folder) / f"{stem}-{spec.kind}.{EXTENSIONS[spec.format]}"


def _render_outputs(image: Image.Image, specs: list[OutputSpec], colorspace: str, folder, stem) -> RenderResult:
    """Resize from the one decoded image, largest output first, each from the previous (never upscaled)."""
    profile_bytes = icc.icc_bytes(colorspace)
    ordered = sorted(specs, key=lambda spec: spec.size or 10**9, reverse=True)
    files, source = {}, image
    for spec in ordered:
        source = _resize(source, _fit_short_side(*image.size, spec.size))
        files[spec.kind] = RenderedFile(spec.kind, output_path(folder, stem, spec), source.width, source.height,
                                        spec.format, encode(source, spec, profile_bytes))
    # `source` is now the smallest output: the cheapest start for the thumbhash.
    return RenderResult(files, compute_thumbhash(source, colorspace), colorspace)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over the target (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _write_all(result: RenderResult) -> RenderResult:
    for rendered in result.files.values():
        write_atomically(rendered.path, rendered.data)
    return result


def render_image(source, folder, stem: str, settings: ImageSettings, *, fullsize: bool = False) -> RenderResult:
    """Make the preview, thumbnail, thumbhash (and full size when `fullsize`) of an image file into
    `folder`. Raises BadMediaFile; nothing is written unless every output was encoded."""
    specs = [settings.preview, settings.thumbnail]
    if fullsize and settings.fullsize is not None:
        specs.append(settings.fullsize)
    largest = None if any(spec.size is None for spec in specs) else max(spec.size for spec in specs)
    image, icc_profile = decode_image(source, largest)
    image, colorspace = convert_colour(image, icc_profile, settings.colorspace)
    return _write_all(_render_outputs(image, specs, colorspace, folder, stem))


# --- Videos ------------------------------------------------------------------------------------------

# Immich's ThumbnailConfig: sample at 12 fps, let `thumbnail` pick the most representative of each 12
# frames, prefer the first scene change (or frame 20), keep the last of up to two candidates.
FRAME_SELECTION = [
    "fps=12:start_time=0:eof_action=pass:round=down",
    "thumbnail=12",
    r"select=gt(scene\,0.1)-eq(prev_selected_n\,n)+isnan(prev_selected_n)+gt(n\,20)",
    "trim=end_frame=2",
    "reverse",
]


def _is_hdr(path) -> bool:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.codec_context.color_trc or 0) in HDR_TRANSFER_CODES
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return False


def video_frame(path, short_side: int, tonemap: str) -> Image.Image:
    """A representative frame, upright (ffmpeg applies the rotation matrix), scaled so its shorter side
    is at most `short_side`, tone mapped to SDR when HDR."""
    check_readable(path)
    scale = (f"scale=w='if(gte(iw,ih),-2,min(iw,{short_side}))':h='if(gte(iw,ih),min(ih,{short_side}),-2)'"
             ":flags=lanczos")
    finish = [scale, *(ffmpeg.tonemap_filters(tonemap) if _is_hdr(path) else []), "format=rgb24"]
    output = ["-an", "-sn", "-dn", "-frames:v", "1", "-f", "image2pipe", "-c:v", "ppm", "-"]
    attempts = [
        ["-skip_frame", "nointra", "-sws_flags", "accurate_rnd+full_chroma_int", "-i", str(path),
         "-vf", ",".join(FRAME_SELECTION + finish)],
        # Some streams yield no key frame through the selection: fall back to the first decodable frame.
        ["-sws_flags", "accurate_rnd+full_chroma_int", "-i", str(path), "-vf", ",".join(finish)],
    ]
    error = None
    for arguments in attempts:
        try:
            data = ffmpeg.run(arguments + output, timeout=600)
        except ffmpeg.FfmpegError as failure:
            error = failure
            continue
        if data:
            frame = Image.open(io.BytesIO(data))
            frame.load()
            return frame
    raise BadMediaFile(path, f"no video frame could be decoded ({error or 'the video has no frames'})")


def render_video(source, folder, stem: str, settings: ImageSettings) -> RenderResult:
    largest = max(settings.preview.size, settings.thumbnail.size)
    frame = video_frame(source, largest, settings.tonemap)
    # Video frames are BT.709, the sRGB primaries: tagged sRGB whatever the colorspace setting.
    return _write_all(_render_outputs(frame, [settings.preview, settings.thumbnail], "srgb", folder, stem))


# --- Assets ------------------------------------------------------------------------------------------


def asset_folder(asset: Asset) -> Path:
    """MEDIA_ROOT/thumbs/<owner>/<id[0:2]>/<id[2:4]>/, Immich's layout."""
    asset_id = str(asset.id)
    return Path(django_settings.MEDIA_ROOT) / "thumbs" / str(asset.owner_id) / asset_id[0:2] / asset_id[2:4]


def needs_fullsize(asset: Asset, settings: ImageSettings) -> bool:
    """Full size only when enabled and only for images browsers cannot show (HEIC, TIFF...)."""
    return settings.fullsize is not None and asset.type == AssetType.IMAGE and not is_web_image(asset.original_path)


def _relative(path: Path) -> str:
    return str(path.relative_to(django_settings.MEDIA_ROOT))


def absolute(relative_path: str) -> Path:
    return Path(django_settings.MEDIA_ROOT) / relative_path


def asset_with_preview(asset_id, skipped: type[Exception], purpose: str) -> Asset:
    """The asset a machine-learning job reads through its preview (faces, CLIP, OCR). Raises `skipped` for an
    asset that is gone or in the trash (the job says why and moves on), FileNotFoundError when it has no
    preview yet (the job fails, naming the fix)."""
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None:
        raise skipped(f"asset {asset_id} no longer exists")
    if asset.deleted_at is not None:
        raise skipped(f"{asset.original_filename} is in the trash")
    if not asset.preview_path or not absolute(asset.preview_path).is_file():
        raise FileNotFoundError(f"{asset.original_filename} has no preview to {purpose}: run Generate Thumbnails "
                                "for it first.")
    return asset


def generate_asset(asset_id) -> Asset:
    """Generate the thumbnails of one asset with the Image settings in force now. On a bad file the
    reason is stored in `thumbnail_error` and BadMediaFile is raised (the job fails with it)."""
    asset = Asset.objects.get(pk=asset_id)
    settings = ImageSettings.from_config(get_config())
    folder, stem = asset_folder(asset), str(asset.id)
    try:
        if asset.type == AssetType.VIDEO:
            result = render_video(asset.original_path, folder, stem, settings)
        else:
            result = render_image(asset.original_path, folder, stem, settings,
                                  fullsize=needs_fullsize(asset, settings))
    except BadMediaFile as error:
        Asset.objects.filter(pk=asset.pk).update(thumbnail_error=error.reason)
        raise
    previous = {asset.thumbnail_path, asset.preview_path, asset.fullsize_path} - {""}
    paths = {kind: _relative(rendered.path) for kind, rendered in result.files.items()}
    asset.thumbnail_path = paths["thumbnail"]
    asset.preview_path = paths["preview"]
    asset.fullsize_path = paths.get("fullsize", "")
    asset.thumbhash = result.thumbhash
    asset.thumbnail_error = ""
    asset.thumbnails_generated_at = timezone.now()
    asset.save(update_fields=["thumbnail_path", "preview_path", "fullsize_path", "thumbhash", "thumbnail_error",
                              "thumbnails_generated_at", "updated_at"])
    for stale in previous - set(paths.values()):  # e.g. the thumbnail format changed from WebP to JPEG
        absolute(stale).unlink(missing_ok=True)
    return asset


def asset_ids_to_generate(force: bool | None) -> list:
    """The assets a Generate Thumbnails run covers: ALL (force) = every online asset; MISSING = those
    lacking a thumbnail, preview or thumbhash (in the database or on disk), or a required full size."""
    assets = Asset.objects.filter(is_offline=False)
    if force:
        return list(assets.values_list("id", flat=True))
    settings = ImageSettings.from_config(get_config())
    missing = []
    columns = ("id", "type", "original_path", "thumbnail_path", "preview_path", "fullsize_path", "thumbhash")
    for asset in assets.only(*columns).iterator():
        files = [asset.thumbnail_path, asset.preview_path]
        if needs_fullsize(asset, settings):
            files.append(asset.fullsize_path)
        if asset.thumbhash is None or any(not path or not absolute(path).exists() for path in files):
            missing.append(asset.id)
    return missing
