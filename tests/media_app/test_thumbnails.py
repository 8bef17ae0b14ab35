"""Thumbnail generation with real files, driven by the Image settings saved through the settings service."""

import io
from pathlib import Path

import pytest
import thumbhash
from PIL import Image, ImageChops, ImageCms, ImageStat, JpegImagePlugin

from media_app.models import Asset
from media_app.services import icc, thumbnails
from media_app.services.imaging import BadMediaFile
from settings_app.services import save_values

from .conftest import PHOTOS, VIDEOS

pytestmark = pytest.mark.django_db


def _open(relative_path: str) -> Image.Image:
    return Image.open(thumbnails.absolute(relative_path))


def _profile_name(image: Image.Image) -> str:
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))).strip()


def _generate(asset) -> Asset:
    thumbnails.generate_asset(asset.id)
    return Asset.objects.get(pk=asset.pk)


def _save(admin_user, values: dict):
    result = save_values(values, user=admin_user)
    assert result.ok, result.errors


def _files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


# --- Sizes and formats --------------------------------------------------------------------------------


def test_default_settings_make_a_webp_thumbnail_a_jpeg_preview_and_a_thumbhash(make_asset, media_root):
    asset = _generate(make_asset(PHOTOS / "iphone_hdr_NO.jpg"))  # 3264x2448
    folder = Path(media_root) / "thumbs" / str(asset.owner_id) / str(asset.id)[:2] / str(asset.id)[2:4]
    assert thumbnails.absolute(asset.thumbnail_path) == folder / f"{asset.id}-thumbnail.webp"
    assert thumbnails.absolute(asset.preview_path) == folder / f"{asset.id}-preview.jpeg"
    thumbnail, preview = _open(asset.thumbnail_path), _open(asset.preview_path)
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (333, 250))
    assert (preview.format, preview.size) == ("JPEG", (1920, 1440))
    assert JpegImagePlugin.get_sampling(preview) == 0  # 4:4:4 at quality 80
    assert "progressive" not in preview.info
    assert thumbhash.thumb_hash_to_approximate_aspect_ratio(bytes(asset.thumbhash)) == pytest.approx(4 / 3, rel=0.1)
    assert asset.fullsize_path == ""
    assert asset.thumbnails_generated_at is not None and asset.thumbnail_error == ""
    assert [path.name for path in _files_under(folder)] == sorted([f"{asset.id}-preview.jpeg",
                                                                    f"{asset.id}-thumbnail.webp"])


def test_the_shorter_side_gets_the_size(make_asset):
    asset = _generate(make_asset(PHOTOS / "HMD_Nokia_8.3_5G.jpg"))  # 4608x1976 panorama
    assert _open(asset.preview_path).size == (3358, 1440)
    assert _open(asset.thumbnail_path).size == (583, 250)


@pytest.mark.parametrize(("name", "size"), [("thompson-springs.jpg", (150, 103)), ("gps-datetime.jpg", (100, 100))])
def test_small_images_are_never_upscaled(make_asset, name, size):
    asset = _generate(make_asset(PHOTOS / name))
    assert _open(asset.preview_path).size == size
    assert _open(asset.thumbnail_path).size == size


@pytest.mark.parametrize("name", ["8bit-sRGB.avif", "denali.webp", "density_plot.png", "IMG_2682.heic",
                                  "curie_portrait_xmp_faces.jpg", "mongolels.jpg", "tanners_ridge.jpg"])
def test_every_test_photo_format_renders(make_asset, name):
    asset = _generate(make_asset(PHOTOS / name))
    source = Image.open(PHOTOS / name)
    shorter = min(source.size)
    assert min(_open(asset.preview_path).size) == min(shorter, 1440)
    assert min(_open(asset.thumbnail_path).size) == min(shorter, 250)


def test_settings_changes_reach_the_next_generation(make_asset, admin_user):
    asset = _generate(make_asset(PHOTOS / "iphone_hdr_NO.jpg"))
    old_thumbnail = thumbnails.absolute(asset.thumbnail_path)
    assert old_thumbnail.exists()

    _save(admin_user, {"image.thumbnail.size": 480, "image.thumbnail.format": "jpeg",
                       "image.preview.size": 720, "image.preview.progressive": True})
    asset = _generate(asset)
    thumbnail, preview = _open(asset.thumbnail_path), _open(asset.preview_path)
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (640, 480))
    assert preview.size == (960, 720)
    assert preview.info.get("progressive")
    assert not old_thumbnail.exists()  # the WebP of the old format is removed


def test_quality_changes_file_size_and_chroma_subsampling(make_asset, admin_user):
    asset = make_asset(PHOTOS / "iphone_hdr_NO.jpg")
    sizes = {}
    for quality in (30, 95):
        _save(admin_user, {"image.preview.quality": quality, "image.thumbnail.quality": quality})
        asset = _generate(asset)
        preview = _open(asset.preview_path)
        sizes[quality] = (thumbnails.absolute(asset.preview_path).stat().st_size,
                          thumbnails.absolute(asset.thumbnail_path).stat().st_size)
        assert JpegImagePlugin.get_sampling(preview) == (2 if quality < 80 else 0)  # 4:2:0 below 80, else 4:4:4
    assert sizes[30][0] * 3 < sizes[95][0]
    assert sizes[30][1] * 2 < sizes[95][1]


# --- Colour ---------------------------------------------------------------------------------------------


def test_wide_gamut_photo_stays_display_p3_or_is_converted_to_srgb(make_asset, admin_user):
    asset = make_asset(PHOTOS / "IMG_2682_displayp3.jpg")
    p3 = _generate(asset)
    p3_preview = _open(p3.preview_path)
    p3_pixels = p3_preview.convert("RGB")
    assert _profile_name(p3_preview) == "Display P3"
    assert _profile_name(_open(p3.thumbnail_path)) == "Display P3"

    _save(admin_user, {"image.colorspace": "srgb"})
    srgb = _generate(asset)
    srgb_preview = _open(srgb.preview_path)
    assert "sRGB" in _profile_name(srgb_preview)
    srgb_pixels = srgb_preview.convert("RGB")

    # Different numbers (P3 values are less saturated for the same colour)...
    assert ImageStat.Stat(ImageChops.difference(p3_pixels, srgb_pixels)).mean[0] > 2
    # ...describing the same colours once each is read through its own profile.
    embedded = ImageCms.ImageCmsProfile(io.BytesIO(p3_preview.info["icc_profile"]))
    p3_as_srgb = ImageCms.profileToProfile(p3_pixels, embedded, icc.profile("srgb"))
    assert max(ImageStat.Stat(ImageChops.difference(p3_as_srgb, srgb_pixels)).mean) < 1.5


@pytest.mark.parametrize("name", ["iphone_hdr_NO.jpg", "denali.webp"])  # untagged, and tagged sRGB
def test_srgb_photos_stay_srgb_when_wide_gamut_is_preferred(make_asset, name):
    asset = _generate(make_asset(PHOTOS / name))
    assert "sRGB" in _profile_name(_open(asset.preview_path))


def test_heic_is_decoded_with_its_p3_profile(make_asset):
    asset = _generate(make_asset(PHOTOS / "IMG_2682.heic"))
    preview = _open(asset.preview_path)
    assert preview.size == (1920, 1440)
    assert _profile_name(preview) == "Display P3"


# --- Orientation ----------------------------------------------------------------------------------------


def test_exif_orientation_is_applied(make_asset, tmp_path):
    stored = Image.new("RGB", (400, 200), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 200, 200))  # left half red, right half blue
    exif = stored.getexif()
    exif[0x0112] = 6  # display rotated 90° clockwise: the left (red) half ends up on top
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    asset = _generate(make_asset(path))
    preview = _open(asset.preview_path).convert("RGB")
    assert preview.size == (200, 400)
    red, green, blue = preview.getpixel((100, 50))
    assert red > 200 and blue < 60
    red, green, blue = preview.getpixel((100, 350))
    assert blue > 200 and red < 60


# --- Full size ------------------------------------------------------------------------------------------


def test_fullsize_only_when_enabled_and_only_for_formats_browsers_cannot_show(make_asset, admin_user):
    heic, jpeg = make_asset(PHOTOS / "IMG_2682.heic"), make_asset(PHOTOS / "tanners_ridge.jpg")
    assert _generate(heic).fullsize_path == ""

    _save(admin_user, {"image.fullsize.enabled": True, "image.fullsize.quality": 90})
    heic = _generate(heic)
    fullsize = _open(heic.fullsize_path)
    assert (fullsize.format, fullsize.size) == ("JPEG", (4032, 3024))
    assert _profile_name(fullsize) == "Display P3"
    assert _generate(jpeg).fullsize_path == ""  # browsers show JPEG as it is

    fullsize_file = thumbnails.absolute(heic.fullsize_path)
    _save(admin_user, {"image.fullsize.enabled": False})
    assert _generate(heic).fullsize_path == ""
    assert not fullsize_file.exists()


# --- Videos ---------------------------------------------------------------------------------------------


def test_video_thumbnails_follow_the_rotation(make_asset):
    asset = _generate(make_asset(VIDEOS / "h264_aac_640x360_3s_rotate90cw.mp4"))
    assert _open(asset.preview_path).size == (360, 640)
    assert _open(asset.thumbnail_path).size == (250, 444)
    assert asset.thumbhash


@pytest.mark.parametrize(("name", "preview_size"), [("h264_aac_1920x1080_60fps_2s_gps.mp4", (1920, 1080)),
                                                    ("hevc_aac_640x360_3s.mov", (640, 360)),
                                                    ("vp9_opus_640x360_3s.webm", (640, 360))])
def test_video_formats(make_asset, name, preview_size):
    asset = _generate(make_asset(VIDEOS / name))
    assert _open(asset.preview_path).size == preview_size  # 1080 < 1440: never upscaled
    thumbnail = _open(asset.thumbnail_path)
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (444, 250))


def test_hdr_video_is_tone_mapped_unless_disabled(make_asset, admin_user):
    asset = make_asset(VIDEOS / "hevc_10bit_hdr10_pq_1280x720_2s.mp4")
    mapped = _open(_generate(asset).preview_path).convert("RGB")
    _save(admin_user, {"ffmpeg.tonemap": "disabled"})
    raw = _open(_generate(asset).preview_path).convert("RGB")
    assert mapped.size == raw.size == (1280, 720)
    _save(admin_user, {"ffmpeg.tonemap": "reinhard"})
    reinhard = _open(_generate(asset).preview_path).convert("RGB")
    # PQ code values shown as SDR are wrong; each operator maps them its own way.
    assert max(ImageStat.Stat(ImageChops.difference(mapped, raw)).mean) > 3
    assert max(ImageStat.Stat(ImageChops.difference(mapped, reinhard)).mean) > 1


# --- Bad files ------------------------------------------------------------------------------------------


def _truncated_jpeg(tmp_path):
    data = (PHOTOS / "tanners_ridge.jpg").read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def _png_bomb(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(path, optimize=True)  # 100 MP in ~12 KB
    return path


def _jpeg_bomb(tmp_path):
    path = tmp_path / "bomb.jpg"
    Image.new("L", (10_000, 10_000), 255).save(path, quality=75)  # 100 MP of one colour in ~1 MB
    return path


def _not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are my holiday notes, not a photo")
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(("make_file", "reason"), [
    (_not_an_image, "not an image"),
    (_truncated_jpeg, "truncated image"),
    (_empty, "empty file (0 bytes)"),
    (_png_bomb, "decompression bomb refused: 10000x10000 (100 megapixels)"),
    (_jpeg_bomb, "decompression bomb refused: 10000x10000 (100 megapixels)"),
])
def test_bad_files_fail_with_a_reason_and_write_nothing(make_asset, media_root, tmp_path, make_file, reason):
    bad = make_asset(make_file(tmp_path))
    good = make_asset(PHOTOS / "tanners_ridge.jpg")
    with pytest.raises(BadMediaFile) as failure:
        thumbnails.generate_asset(bad.id)
    assert reason in str(failure.value)
    assert str(failure.value).startswith(Path(bad.original_path).name + ": ")
    bad.refresh_from_db()
    assert reason in bad.thumbnail_error
    assert (bad.thumbnail_path, bad.preview_path, bad.thumbhash) == ("", "", None)
    assert _files_under(thumbnails.asset_folder(bad)) == []  # not even a temporary file
    # The rest of the batch goes on.
    good = _generate(good)
    assert _open(good.thumbnail_path).size == (375, 250)


def test_a_bad_file_keeps_the_previous_thumbnails(make_asset, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes((PHOTOS / "tanners_ridge.jpg").read_bytes())
    asset = _generate(make_asset(path))
    before = {name: thumbnails.absolute(getattr(asset, name)).read_bytes()
              for name in ("thumbnail_path", "preview_path")}
    path.write_bytes(path.read_bytes()[:5000])  # the original gets damaged
    with pytest.raises(BadMediaFile, match="truncated"):
        thumbnails.generate_asset(asset.id)
    asset.refresh_from_db()
    assert {name: thumbnails.absolute(getattr(asset, name)).read_bytes() for name in before} == before
    assert [p.name for p in _files_under(thumbnails.asset_folder(asset)) if p.name.endswith(".tmp")] == []


# --- Which assets a run covers ----------------------------------------------------------------------------


def test_missing_covers_only_assets_lacking_files_and_all_covers_everything(make_asset, admin_user):
    done = _generate(make_asset(PHOTOS / "tanners_ridge.jpg"))
    pending = make_asset(PHOTOS / "mongolels.jpg")
    deleted_on_disk = _generate(make_asset(PHOTOS / "denali.webp"))
    thumbnails.absolute(deleted_on_disk.preview_path).unlink()
    offline = make_asset(PHOTOS / "gps-datetime.jpg", is_offline=True)
    heic = _generate(make_asset(PHOTOS / "IMG_2682.heic"))

    assert set(thumbnails.asset_ids_to_generate(force=False)) == {pending.id, deleted_on_disk.id}
    assert set(thumbnails.asset_ids_to_generate(force=True)) == {done.id, pending.id, deleted_on_disk.id, heic.id}
    assert offline.id not in thumbnails.asset_ids_to_generate(force=True)

    _save(admin_user, {"image.fullsize.enabled": True})  # the HEIC now lacks its full-size file
    assert set(thumbnails.asset_ids_to_generate(force=False)) == {pending.id, deleted_on_disk.id, heic.id}


# --- Pixel formats --------------------------------------------------------------------------------------


def test_transparency_is_kept_in_webp_and_flattened_on_white_in_jpeg(make_asset, tmp_path):
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (600, 400), (200, 30, 30, 255))
    image.paste((0, 0, 0, 0), (0, 0, 300, 400))  # left half fully transparent
    image.save(path)
    asset = _generate(make_asset(path))
    thumbnail = _open(asset.thumbnail_path)
    assert thumbnail.mode == "RGBA" and thumbnail.size == (375, 250)
    assert thumbnail.getpixel((20, 125))[3] == 0
    assert thumbnail.getpixel((350, 125))[3] == 255
    preview = _open(asset.preview_path).convert("RGB")
    assert preview.getpixel((20, 200)) == pytest.approx((255, 255, 255), abs=3)


@pytest.mark.parametrize(("mode", "colour", "expected"), [
    ("CMYK", (0, 255, 255, 0), None),  # magenta + yellow ink: a red
    ("L", 128, (128, 128, 128)),
    ("I;16", 40000, (156, 156, 156)),  # 16-bit grey scaled to 8 bits
])
def test_other_pixel_formats_render_as_rgb(make_asset, tmp_path, mode, colour, expected):
    path = tmp_path / ("image.jpg" if mode != "I;16" else "image.png")
    Image.new(mode, (500, 300), colour).save(path)
    asset = _generate(make_asset(path))
    preview = _open(asset.preview_path).convert("RGB")
    assert preview.size == (500, 300)
    if mode == "CMYK":
        red, green, blue = preview.getpixel((250, 150))
        assert red > 200 and green < 60 and blue < 60
    else:
        assert preview.getpixel((250, 150)) == pytest.approx(expected, abs=2)


@pytest.mark.parametrize(("mode", "colour"), [
    ("RGBA", (200, 30, 30, 255)),  # opaque red, a transparent left half pasted below
    ("P", 1),  # palette index 1 = red
    ("I;16", 40000),
])
def test_large_non_jpeg_images_are_box_reduced_at_decode_and_keep_colour_alpha_and_orientation(tmp_path, mode,
                                                                                                colour):
    """PNGs have no DCT scaling: decode reduces them by the largest integer factor that still covers the size."""
    path = tmp_path / "big.png"
    image = Image.new(mode, (3000, 2000), colour)
    if mode == "P":
        image.putpalette([0, 0, 0, 220, 20, 20] + [0] * 762)
    if mode == "RGBA":
        image.paste((0, 0, 0, 0), (0, 0, 1500, 2000))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    image.save(path, exif=exif)

    decoded, _ = thumbnails.decode_image(path, 640)

    assert decoded.size == (667, 1000)  # 2000 // 640 = 3: 1000x667 stored (last box partial), upright
    if mode == "RGBA":
        assert decoded.mode == "RGBA"
        assert decoded.getpixel((333, 100))[3] == 0  # the stored left half is now the top
        assert decoded.getpixel((333, 900)) == (200, 30, 30, 255)  # premultiplied: no dark fringe
    else:
        assert decoded.mode == "RGB"
        assert decoded.getpixel((333, 500)) == ((220, 20, 20) if mode == "P" else (156, 156, 156))


def test_full_resolution_decode_is_not_reduced(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (3000, 2000), (10, 20, 30)).save(path)
    assert thumbnails.decode_image(path, None)[0].size == (3000, 2000)
    assert thumbnails.decode_image(path, 1500)[0].size == (3000, 2000)  # 2000 // 1500 = 1
