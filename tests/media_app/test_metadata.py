"""Metadata extraction against the values exiftool/ffprobe recorded for every file in the test data."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from media_app.models import Asset
from media_app.services import geocoding, metadata
from media_app.services.imaging import BadMediaFile
from settings_app.services import save_values

from .conftest import PHOTO_ROWS, PHOTOS, VIDEO_ROWS, VIDEOS

PHOTO_IDS = [row["file"] for row in PHOTO_ROWS]
VIDEO_IDS = [row["file"] for row in VIDEO_ROWS]
GEOTAGGED = [row for row in PHOTO_ROWS if row["gps_lat"]]

# The UTC offset each photo's date is in: from OffsetTimeOriginal (Nokia), IPTC TimeCreated (thompson), or
# inferred from the GPS clock when the camera wrote none (the iPhones). No source at all: unknown.
EXPECTED_OFFSETS = {"HMD_Nokia_8.3_5G.jpg": "+03:00", "IMG_2682.heic": "-05:00",
                    "IMG_2682_displayp3.jpg": "-05:00", "iphone_hdr_NO.jpg": "+02:00",
                    "thompson-springs.jpg": "-04:00"}


def _exif_time(text: str) -> tuple[datetime, timedelta | None]:
    """'2019:03:21 11:04:22.348' or '2022:01:10 15:15:44-04:00' as exiftool prints them."""
    offset = None
    if len(text) > 19 and text[-6] in "+-":
        text, sign, hours, minutes = text[:-6], text[-6], int(text[-5:-3]), int(text[-2:])
        offset = (1 if sign == "+" else -1) * timedelta(hours=hours, minutes=minutes)
    elif text.endswith("Z"):
        text, offset = text[:-1], timedelta(0)
    return datetime.strptime(text, "%Y:%m:%d %H:%M:%S.%f" if "." in text else "%Y:%m:%d %H:%M:%S"), offset


@pytest.fixture(scope="module")
def photo_metadata():
    return {row["file"]: metadata.read_metadata(PHOTOS / row["file"]) for row in PHOTO_ROWS}


@pytest.mark.parametrize("row", PHOTO_ROWS, ids=PHOTO_IDS)
def test_photo_dimensions_orientation_and_camera(row, photo_metadata):
    meta = photo_metadata[row["file"]]
    assert (meta.width, meta.height) == (int(row["width"]), int(row["height"]))
    assert meta.orientation == (int(row["orientation"]) if row["orientation"] else None)
    assert meta.make == row["make"]
    assert meta.model == row["model"]
    assert meta.rating == (int(row["rating"]) if row["rating"] else None)


@pytest.mark.parametrize("row", PHOTO_ROWS, ids=PHOTO_IDS)
def test_photo_date_taken_with_timezone(row, photo_metadata):
    meta = photo_metadata[row["file"]]
    gps_time = _exif_time(row["gps_datetime_utc"])[0].replace(tzinfo=UTC) if row["gps_datetime_utc"] else None
    if not row["datetime_original"]:
        # No camera date: the GPS clock is the last resort (gps-datetime.jpg), else nothing.
        assert meta.local_taken_at is None
        assert meta.taken_at == gps_time
        return
    local, offset = _exif_time(row["subsec_datetime_original"] or row["datetime_original"])
    assert meta.local_taken_at == local.replace(tzinfo=None)
    assert meta.timezone_label == EXPECTED_OFFSETS.get(row["file"], "")
    expected_offset = offset if offset is not None else meta.utc_offset or timedelta(0)
    assert meta.taken_at == (local - expected_offset).replace(tzinfo=UTC)
    if gps_time and row["datetime_source_tag"] == "ExifIFD:DateTimeOriginal":
        # The instant agrees with the independent GPS clock to within the camera's clock drift.
        assert abs(meta.taken_at - gps_time) < timedelta(seconds=2)


@pytest.mark.parametrize("row", PHOTO_ROWS, ids=PHOTO_IDS)
def test_photo_gps(row, photo_metadata):
    meta = photo_metadata[row["file"]]
    if not row["gps_lat"]:
        assert (meta.latitude, meta.longitude, meta.altitude) == (None, None, None)
        return
    assert meta.latitude == pytest.approx(float(row["gps_lat"]), abs=1e-6)
    assert meta.longitude == pytest.approx(float(row["gps_lon"]), abs=1e-6)
    if row["gps_alt_m"]:
        assert meta.altitude == pytest.approx(float(row["gps_alt_m"]), abs=0.01)
    else:
        assert meta.altitude is None


def test_lens_model_from_exif_or_xmp(photo_metadata):
    assert photo_metadata["IMG_2682.heic"].lens_model == "iPhone 7 back camera 3.99mm f/1.8"
    assert photo_metadata["denali.webp"].lens_model == "EF28-80mm f/3.5-5.6 USM"
    assert photo_metadata["tanners_ridge.jpg"].lens_model == "17.0-35.0 mm f/2.8"  # XMP aux:Lens only


def test_orientation_swaps_the_displayed_size(tmp_path):
    source = Image.open(PHOTOS / "tanners_ridge.jpg")
    exif = source.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    rotated = tmp_path / "rotated.jpg"
    source.save(rotated, exif=exif, quality=90)
    meta = metadata.read_metadata(rotated)
    assert meta.orientation == 6
    assert (meta.width, meta.height) == (534, 800)


@pytest.mark.parametrize("row", VIDEO_ROWS, ids=VIDEO_IDS)
def test_video_metadata(row):
    meta = metadata.read_metadata(VIDEOS / row["file"])
    assert meta.duration == pytest.approx(float(row["duration_s"]), abs=0.01)
    assert meta.video_codec == row["video_codec"]
    assert meta.audio_codec == row["audio_codec"]
    numerator, denominator = row["fps"].split("/")
    assert meta.frame_rate == pytest.approx(int(numerator) / int(denominator))
    coded = (int(row["coded_width"]), int(row["coded_height"]))
    rotation = int(row["exiftool_rotation_cw"] or 0)
    assert (meta.width, meta.height) == (coded[::-1] if rotation in (90, 270) else coded)
    assert meta.orientation == {0: 1, 90: 6, 180: 3, 270: 8}[rotation]
    if row["creation_time"]:
        expected = datetime.strptime(row["creation_time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert meta.taken_at == expected
    else:
        assert meta.taken_at is None
    if row["gps_lat"]:
        assert meta.latitude == pytest.approx(float(row["gps_lat"]), abs=1e-4)
        assert meta.longitude == pytest.approx(float(row["gps_lon"]), abs=1e-4)
    else:
        assert meta.latitude is None


@pytest.mark.parametrize(("text", "expected"), [
    ("+48.8584+002.2945/", (48.8584, 2.2945, None)),
    ("-33.8688+151.2093+058.000/", (-33.8688, 151.2093, 58.0)),
    ("+4851.504+00217.670/", (48.8584, 2.2945, None)),  # ±DDMM.MMM / ±DDDMM.MMM
    ("+485130.24+0021740.2/", (48.8584, 2.29450, None)),  # ±DDMMSS.SS
])
def test_iso6709_locations(text, expected):
    latitude, longitude, altitude = metadata.parse_iso6709(text)
    assert latitude == pytest.approx(expected[0], abs=1e-4)
    assert longitude == pytest.approx(expected[1], abs=1e-4)
    assert altitude == expected[2]


def test_placeholder_and_malformed_dates_are_ignored():
    assert metadata.parse_datetime("0000:00:00 00:00:00") is None
    assert metadata.parse_datetime("not a date") is None
    assert metadata.parse_datetime("2023:09:25 08:33:30\x00", "88\x00") == (datetime(2023, 9, 25, 8, 33, 30, 880000),
                                                                           None)


def test_far_from_any_place_gives_no_place():
    assert geocoding.lookup(0.0, -140.0) is None  # the middle of the Pacific
    assert geocoding.lookup(60.1467, 24.9068).city == "Länsisatama"


# --- Assets in the database -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("row", GEOTAGGED, ids=[row["file"] for row in GEOTAGGED])
def test_extract_asset_reverse_geocodes_when_enabled(row, make_asset):
    asset = metadata.extract_asset(make_asset(PHOTOS / row["file"]).id)
    asset.refresh_from_db()
    assert asset.city == row["revgeo_city_reverse_geocode_1.6.6"]
    assert asset.state == row["revgeo_admin1"]
    assert asset.country_code == row["revgeo_country_code"]
    assert asset.country  # the full name, e.g. "United States"
    assert asset.metadata_extracted_at is not None


@pytest.mark.django_db
def test_disabling_reverse_geocoding_stops_lookups_at_the_next_run(make_asset, admin_user):
    asset = make_asset(PHOTOS / "IMG_2682.heic")
    metadata.extract_asset(asset.id)
    asset.refresh_from_db()
    assert (asset.city, asset.state, asset.country) == ("Ralston", "Nebraska", "United States")

    assert save_values({"reverseGeocoding.enabled": False}, user=admin_user).ok
    metadata.extract_asset(asset.id)
    asset.refresh_from_db()
    assert (asset.city, asset.state, asset.country, asset.country_code) == ("", "", "", "")
    assert asset.latitude == pytest.approx(41.2203)  # GPS itself is still stored


@pytest.mark.django_db
def test_extract_asset_stores_dates_timezone_and_exif(make_asset):
    asset = metadata.extract_asset(make_asset(PHOTOS / "HMD_Nokia_8.3_5G.jpg").id)
    asset = Asset.objects.get(pk=asset.pk)
    assert asset.taken_at == datetime(2022, 8, 14, 11, 12, 31, tzinfo=UTC)
    assert asset.local_taken_at == datetime(2022, 8, 14, 14, 12, 31, tzinfo=UTC)  # wall clock, Immich-style
    assert asset.timezone == "+03:00"
    assert (asset.width, asset.height, asset.orientation) == (4608, 1976, 1)
    assert (asset.make, asset.model) == ("HMD Global", "Nokia 8.3 5G")
    assert asset.file_size == 2190194


@pytest.mark.django_db
def test_without_a_date_the_file_date_is_used(make_asset, tmp_path):
    copy = tmp_path / "density_plot.png"
    copy.write_bytes((PHOTOS / "density_plot.png").read_bytes())
    os.utime(copy, (1_600_000_000, 1_600_000_000))
    asset = metadata.extract_asset(make_asset(copy).id)
    assert asset.taken_at == datetime.fromtimestamp(1_600_000_000, tz=UTC)
    assert asset.timezone == ""


@pytest.mark.django_db
def test_video_asset(make_asset):
    asset = metadata.extract_asset(make_asset(VIDEOS / "h264_aac_1920x1080_60fps_2s_gps.mp4").id)
    assert asset.duration == pytest.approx(2.0)
    assert (asset.video_codec, asset.audio_codec) == ("h264", "aac")
    assert asset.city  # the package's nearest place to the Eiffel Tower is a suburb (Vanves)
    assert (asset.state, asset.country_code) == ("Île-de-France", "FR")


@pytest.mark.django_db
def test_unreadable_content_keeps_the_asset_with_a_reason(make_asset, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG at all")
    asset = metadata.extract_asset(make_asset(broken).id)
    assert "not an image" in asset.metadata_error
    assert asset.taken_at is not None  # from the file, so it still shows in the timeline


@pytest.mark.django_db
def test_missing_file_raises(make_asset, tmp_path):
    gone = tmp_path / "gone.jpg"
    gone.write_bytes((PHOTOS / "gps-datetime.jpg").read_bytes())
    asset = make_asset(gone)
    gone.unlink()
    with pytest.raises(BadMediaFile, match="gone.jpg: file not found"):
        metadata.extract_asset(asset.id)


@pytest.mark.django_db
def test_missing_covers_assets_never_extracted_and_all_covers_every_online_asset(make_asset):
    done = metadata.extract_asset(make_asset(PHOTOS / "tanners_ridge.jpg").id)
    pending = make_asset(PHOTOS / "mongolels.jpg")
    offline = make_asset(PHOTOS / "denali.webp", is_offline=True)
    assert metadata.asset_ids_to_extract(force=False) == [pending.id]
    assert set(metadata.asset_ids_to_extract(force=True)) == {done.id, pending.id}
    assert offline.id not in metadata.asset_ids_to_extract(force=True)
