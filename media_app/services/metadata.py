"""Metadata extraction (Immich's AssetExtractMetadata). Images: EXIF, then IPTC and XMP for what EXIF
lacks, read with Pillow (+ pillow-heif). Videos: container and stream data read with PyAV, the libavformat
bindings that ffprobe itself is built on (the ffmpeg wheel ships no ffprobe binary, and parsing
`ffmpeg -i` text is brittle). Reverse geocoding runs only when the setting is on at the time of the run."""

import logging
import os
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from PIL import ExifTags, IptcImagePlugin

from settings_app.services import get_config

from ..formats import asset_type_for
from ..models import Asset, AssetType
from ..signals import metadata_extracted
from . import companions, geocoding, video_probe
from .imaging import BadMediaFile, check_readable, open_image
from .transcode_command import VideoProbe

log = logging.getLogger(__name__)

TAG_ORIENTATION = 0x0112
TAG_MAKE, TAG_MODEL = 0x010F, 0x0110
TAG_RATING = 0x4746
TAG_DATETIME_ORIGINAL, TAG_DATETIME_DIGITIZED = 0x9003, 0x9004
TAG_OFFSET_ORIGINAL, TAG_OFFSET_DIGITIZED = 0x9011, 0x9012
TAG_SUBSEC_ORIGINAL, TAG_SUBSEC_DIGITIZED = 0x9291, 0x9292
TAG_LENS_MODEL = 0xA434
TAG_MAKER_NOTE = 0x927C
# Apple's maker note: this header, a version, "MM", then a big-endian IFD whose offsets count from the
# note's start. Its tag 0x11 is the ContentIdentifier a live photo's still shares with its video.
APPLE_MAKER_NOTE_HEADER = b"Apple iOS\x00"
APPLE_CONTENT_IDENTIFIER = 0x0011
EXIF_ASCII = 2

NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
NS_EXIF = "http://ns.adobe.com/exif/1.0/"
NS_EXIF_EX = "http://cipa.jp/exif/1.0/"
NS_AUX = "http://ns.adobe.com/exif/1.0/aux/"
NS_TIFF = "http://ns.adobe.com/tiff/1.0/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# Video rotation (ffprobe's counter-clockwise display-matrix angle) -> EXIF orientation, as Immich maps it.
ROTATION_TO_ORIENTATION = {0: 1, -90: 6, 270: 6, 90: 8, -270: 8, 180: 3, -180: 3}
# A wall-clock time and a GPS (UTC) time this close to a whole quarter hour apart give the UTC offset.
OFFSET_INFERENCE_TOLERANCE = timedelta(minutes=5)


@dataclass
class MediaMetadata:
    """What one file says about itself. Dates: `local_taken_at` is the naive wall-clock time where it was
    taken; `utc_offset` is known when the file says it (or it can be inferred from the GPS clock);
    `taken_at_utc` is for files that only carry a UTC instant (GPS time, video creation_time)."""

    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    local_taken_at: datetime | None = None
    utc_offset: timedelta | None = None
    taken_at_utc: datetime | None = None
    make: str = ""
    model: str = ""
    lens_model: str = ""
    rating: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    duration: float | None = None
    video_codec: str = ""
    audio_codec: str = ""
    frame_rate: float | None = None
    video_pixel_format: str = ""
    video_color_transfer: str = ""
    video_bitrate: int | None = None
    video_container: str = ""
    live_photo_cid: str = ""

    @property
    def taken_at(self) -> datetime | None:
        """The instant (aware, UTC). Without a known offset the wall-clock time is taken as UTC, as Immich
        does."""
        if self.local_taken_at is not None:
            offset = self.utc_offset or timedelta(0)
            return (self.local_taken_at - offset).replace(tzinfo=UTC)
        return self.taken_at_utc

    @property
    def local_time(self) -> datetime | None:
        """The wall-clock time as Immich's localDateTime: local time labelled UTC."""
        if self.local_taken_at is not None:
            return self.local_taken_at.replace(tzinfo=UTC)
        if self.taken_at_utc is not None:
            return (self.taken_at_utc + (self.utc_offset or timedelta(0))).replace(tzinfo=UTC)
        return None

    @property
    def timezone_label(self) -> str:
        return format_offset(self.utc_offset) if self.utc_offset is not None else ""


# --- Small parsers ---------------------------------------------------------------------------------


def format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


_OFFSET = re.compile(r"^(Z|[+-]\d{2}:?\d{2})$")


def parse_offset(text) -> timedelta | None:
    text = _clean(text)
    if not text or not _OFFSET.match(text):
        return None
    if text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return offset if timedelta(hours=-12) <= offset <= timedelta(hours=14) else None


_DATETIME = re.compile(
    r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$")


def parse_datetime(text, subseconds=None) -> tuple[datetime, timedelta | None] | None:
    """EXIF ("2022:08:14 14:12:31") or ISO 8601 ("2022-01-10T15:15:44.31-04:00") -> (naive wall clock,
    offset or None). Placeholder dates ("0000:00:00 00:00:00") give None."""
    match = _DATETIME.match(_clean(text))
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    fraction = fraction or _clean(subseconds)
    micro = int((fraction + "000000")[:6]) if fraction and fraction.isdigit() else 0
    try:
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        return None
    if value.year < 1800:
        return None
    return value, parse_offset(offset) if offset else None


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", "").strip()


def _rational(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return None if number != number else number  # NaN from a 0/0 rational


def _dms(value) -> float | None:
    try:
        degrees, minutes, seconds = (_rational(part) for part in value)
    except (TypeError, ValueError):
        return _rational(value)
    if None in (degrees, minutes, seconds):
        return None
    return degrees + minutes / 60 + seconds / 3600


def _signed(value: float | None, ref, negative: str) -> float | None:
    if value is None:
        return None
    return -value if _clean(ref).upper().startswith(negative) else value


_XMP_COORDINATE = re.compile(r"^(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])$")


def _xmp_coordinate(text) -> float | None:
    """XMP GPS coordinates: "37,46.494N" or "37,46,29.64N"."""
    match = _XMP_COORDINATE.match(_clean(text))
    if not match:
        return None
    degrees, minutes, seconds, ref = match.groups()
    value = int(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
    return -value if ref in "SW" else value


def _valid_coordinates(latitude, longitude) -> bool:
    if latitude is None or longitude is None:
        return False
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return False
    return not (latitude == 0 and longitude == 0)  # cameras write 0,0 when they had no fix


_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?/?$")


def parse_iso6709(text) -> tuple[float, float, float | None] | None:
    """ISO 6709 location strings as written in MP4/MOV metadata: "+48.8584+002.2945/" (decimal degrees),
    also ±DDMM.MM / ±DDMMSS.S forms, optionally with altitude."""
    match = _ISO6709.match(_clean(text))
    if not match:
        return None

    def angle(part: str, degree_digits: int) -> float:
        sign = -1 if part[0] == "-" else 1
        whole, _, fraction = part[1:].partition(".")
        fraction = f".{fraction}" if fraction else ""
        if len(whole) <= degree_digits:
            return sign * float(whole + fraction)
        if len(whole) == degree_digits + 2:
            return sign * (int(whole[:degree_digits]) + float(whole[degree_digits:] + fraction) / 60)
        return sign * (int(whole[:degree_digits]) + int(whole[degree_digits:degree_digits + 2]) / 60
                       + float(whole[degree_digits + 2:] + fraction) / 3600)

    latitude, longitude = angle(match.group(1), 2), angle(match.group(2), 3)
    altitude = float(match.group(3)) if match.group(3) else None
    return latitude, longitude, altitude


def _infer_offset(local: datetime, gps_utc: datetime) -> timedelta | None:
    """The UTC offset implied by a camera clock and a GPS clock, to the nearest quarter hour."""
    difference = local - gps_utc.replace(tzinfo=None)
    quarters = round(difference / timedelta(minutes=15))
    offset = quarters * timedelta(minutes=15)
    if abs(difference - offset) > OFFSET_INFERENCE_TOLERANCE:
        return None
    return offset if timedelta(hours=-12) <= offset <= timedelta(hours=14) else None


# --- XMP and IPTC ------------------------------------------------------------------------------------


def parse_xmp(data) -> dict[str, str]:
    """Flatten an XMP packet to {"{namespace}Name": first value}, from attributes and elements alike."""
    if not data:
        return {}
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        root = ET.fromstring(data.strip(b"\x00 \r\n\t"))
    except ET.ParseError:
        return {}
    values: dict[str, str] = {}
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.startswith("{") and not name.startswith("{" + NS_RDF):
                values.setdefault(name, value)
        if element.tag.startswith("{" + NS_RDF) or not isinstance(element.tag, str):
            continue
        if len(element) == 0:
            if element.text and element.text.strip():
                values.setdefault(element.tag, element.text.strip())
        else:
            item = element.find(f".//{{{NS_RDF}}}li")
            if item is not None and item.text and item.text.strip():
                values.setdefault(element.tag, item.text.strip())
    return values


def _xmp(values: dict, namespace: str, name: str) -> str:
    return values.get(f"{{{namespace}}}{name}", "")


def _iptc_datetime(image) -> tuple[datetime, timedelta | None] | None:
    """IPTC DateCreated (2:55) + TimeCreated (2:60), e.g. 20220110 + 151544-0400."""
    try:
        iptc = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception:  # a damaged IPTC block must not stop the rest of the metadata
        return None
    date, time = _clean(iptc.get((2, 55))), _clean(iptc.get((2, 60)))
    if not re.fullmatch(r"\d{8}", date):
        return None
    match = re.fullmatch(r"(\d{2})(\d{2})(\d{2})([+-]\d{4})?", time or "000000")
    if not match:
        return None
    text = f"{date[:4]}:{date[4:6]}:{date[6:]} {match.group(1)}:{match.group(2)}:{match.group(3)}"
    return parse_datetime(text + (match.group(4) or ""))


def apple_content_identifier(maker_note) -> str:
    """The ContentIdentifier in an Apple maker note, or "" (another maker's note, or none)."""
    if not isinstance(maker_note, bytes) or not maker_note.startswith(APPLE_MAKER_NOTE_HEADER):
        return ""
    try:
        (count,) = struct.unpack_from(">H", maker_note, 14)
        for index in range(count):
            tag, kind, length, value = struct.unpack_from(">HHI4s", maker_note, 16 + 12 * index)
            if tag == APPLE_CONTENT_IDENTIFIER and kind == EXIF_ASCII:
                offset = int.from_bytes(value, "big")
                data = value[:length] if length <= 4 else maker_note[offset:offset + length]
                return data.split(b"\x00")[0].decode("ascii", "replace").strip()
    except struct.error:  # a truncated note
        return ""
    return ""


def apply_sidecar(meta: MediaMetadata, xmp: dict) -> None:
    """What an XMP sidecar says wins over the file's own tags (as in Immich, where exiftool reads the
    sidecar over the file): date, camera, lens, rating and place."""
    meta.make = _xmp(xmp, NS_TIFF, "Make") or meta.make
    meta.model = _xmp(xmp, NS_TIFF, "Model") or meta.model
    meta.lens_model = _xmp(xmp, NS_EXIF_EX, "LensModel") or _xmp(xmp, NS_AUX, "Lens") or meta.lens_model
    rating = _xmp(xmp, NS_XMP, "Rating")
    if rating.lstrip("-").isdigit() and -1 <= int(rating) <= 5:
        meta.rating = int(rating)
    taken = _first_xmp_datetime(xmp)
    if taken:
        meta.local_taken_at, meta.utc_offset = taken
        meta.taken_at_utc = None
    latitude = _xmp_coordinate(_xmp(xmp, NS_EXIF, "GPSLatitude"))
    longitude = _xmp_coordinate(_xmp(xmp, NS_EXIF, "GPSLongitude"))
    if _valid_coordinates(latitude, longitude):
        meta.latitude, meta.longitude, meta.altitude = latitude, longitude, None


# --- Images ------------------------------------------------------------------------------------------


def read_image(path) -> MediaMetadata:
    with open_image(path) as image:
        exif = image.getexif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        xmp = parse_xmp(image.info.get("xmp"))
        meta = MediaMetadata()

        # pillow-heif has already applied HEIF's rotation to the pixels (and reset the EXIF tag), so the
        # size is as displayed and the original orientation is kept in info.
        already_upright = "original_orientation" in image.info
        orientation = image.info.get("original_orientation") or exif.get(TAG_ORIENTATION)
        meta.orientation = orientation if orientation in range(1, 9) else None
        width, height = image.size
        if not already_upright and meta.orientation in (5, 6, 7, 8):
            width, height = height, width
        meta.width, meta.height = width, height

        meta.make = _clean(exif.get(TAG_MAKE)) or _xmp(xmp, NS_TIFF, "Make")
        meta.model = _clean(exif.get(TAG_MODEL)) or _xmp(xmp, NS_TIFF, "Model")
        meta.lens_model = (_clean(sub.get(TAG_LENS_MODEL)) or _xmp(xmp, NS_EXIF_EX, "LensModel")
                           or _xmp(xmp, NS_AUX, "Lens"))
        rating = exif.get(TAG_RATING)
        if rating is None and _xmp(xmp, NS_XMP, "Rating").lstrip("-").isdigit():
            rating = int(_xmp(xmp, NS_XMP, "Rating"))
        meta.rating = rating if isinstance(rating, int) and -1 <= rating <= 5 else None

        meta.live_photo_cid = apple_content_identifier(sub.get(TAG_MAKER_NOTE))
        _read_image_gps(meta, gps, xmp)
        gps_time = _gps_datetime(gps, xmp)
        taken = (
            _exif_datetime(sub, TAG_DATETIME_ORIGINAL, TAG_SUBSEC_ORIGINAL, TAG_OFFSET_ORIGINAL)
            or _iptc_datetime(image)
            or _first_xmp_datetime(xmp)
            or _exif_datetime(sub, TAG_DATETIME_DIGITIZED, TAG_SUBSEC_DIGITIZED, TAG_OFFSET_DIGITIZED)
        )
        if taken:
            meta.local_taken_at, meta.utc_offset = taken
            if meta.utc_offset is None and gps_time is not None:
                meta.utc_offset = _infer_offset(meta.local_taken_at, gps_time)
        elif gps_time is not None:
            meta.taken_at_utc = gps_time  # only the GPS clock says when (Immich's last resort tag)
    return meta


def _exif_datetime(sub, date_tag, subsec_tag, offset_tag):
    parsed = parse_datetime(sub.get(date_tag), sub.get(subsec_tag))
    if parsed and parsed[1] is None:
        parsed = parsed[0], parse_offset(sub.get(offset_tag))
    return parsed


def _first_xmp_datetime(xmp):
    for namespace, name in ((NS_EXIF, "DateTimeOriginal"), (NS_PHOTOSHOP, "DateCreated"), (NS_XMP, "CreateDate")):
        parsed = parse_datetime(_xmp(xmp, namespace, name))
        if parsed:
            return parsed
    return None


def _read_image_gps(meta: MediaMetadata, gps, xmp) -> None:
    latitude = _signed(_dms(gps.get(2)), gps.get(1), "S") if 2 in gps else None
    longitude = _signed(_dms(gps.get(4)), gps.get(3), "W") if 4 in gps else None
    if latitude is None or longitude is None:
        latitude = _xmp_coordinate(_xmp(xmp, NS_EXIF, "GPSLatitude"))
        longitude = _xmp_coordinate(_xmp(xmp, NS_EXIF, "GPSLongitude"))
    if not _valid_coordinates(latitude, longitude):
        return
    meta.latitude, meta.longitude = latitude, longitude
    altitude = _rational(gps.get(6)) if 6 in gps else None
    if altitude is not None:
        below_sea_level = gps.get(5) in (1, b"\x01")
        meta.altitude = -altitude if below_sea_level else altitude


def _gps_datetime(gps, xmp) -> datetime | None:
    """The GPS clock (always UTC): EXIF GPSDateStamp + GPSTimeStamp, or XMP exif:GPSTimeStamp."""
    date = _clean(gps.get(29))
    stamp = gps.get(7)
    if re.fullmatch(r"\d{4}:\d{2}:\d{2}", date) and stamp is not None:
        try:
            hours, minutes, seconds = (_rational(part) or 0.0 for part in stamp)
            base = datetime.strptime(date, "%Y:%m:%d").replace(tzinfo=UTC)
            return base + timedelta(hours=hours, minutes=minutes, seconds=seconds)
        except (TypeError, ValueError):
            pass
    for name in ("GPSTimeStamp", "GPSDateTime"):
        parsed = parse_datetime(_xmp(xmp, NS_EXIF, name))
        if parsed:
            value, offset = parsed
            return (value - (offset or timedelta(0))).replace(tzinfo=UTC)
    return None


# --- Videos ------------------------------------------------------------------------------------------


def read_video(path) -> MediaMetadata:
    with video_probe.open_video(path) as container:
        video = video_probe.video_stream(container)
        if video is None:
            raise BadMediaFile(path, "the file has no video stream")
        audio = video_probe.audio_stream(container)
        stream = container.streams[video.index]
        tags = {key.lower(): value for key, value in container.metadata.items()}
        tags.update({key.lower(): value for key, value in stream.metadata.items() if key.lower() not in tags})
        meta = MediaMetadata()
        meta.duration = video_probe.duration(container) or None
        meta.video_codec = video.codec
        meta.audio_codec = audio.codec if audio is not None else ""
        meta.video_pixel_format = video.pix_fmt
        meta.video_color_transfer = video.color_transfer
        meta.video_bitrate = video.bitrate or None
        meta.video_container = VideoProbe(container.format.name, container.format.long_name or "", 0,
                                          video).container
        rate = stream.average_rate or stream.guessed_rate
        meta.frame_rate = round(float(rate), 3) if rate else None
        meta.orientation = ROTATION_TO_ORIENTATION.get(video.rotation, 1)
        width, height = video.width, video.height
        if meta.orientation in (6, 8):
            width, height = height, width
        meta.width, meta.height = width or None, height or None

        meta.make = _clean(tags.get("com.apple.quicktime.make") or tags.get("make"))
        meta.model = _clean(tags.get("com.apple.quicktime.model") or tags.get("model"))
        location = (tags.get("com.apple.quicktime.location.iso6709") or tags.get("location")
                    or tags.get("location-eng"))
        parsed_location = parse_iso6709(location) if location else None
        if parsed_location and _valid_coordinates(*parsed_location[:2]):
            meta.latitude, meta.longitude, meta.altitude = parsed_location

        meta.live_photo_cid = _clean(tags.get("com.apple.quicktime.content.identifier"))
        # Apple's creationdate carries the local offset; the generic creation_time is UTC.
        local = parse_datetime(tags.get("com.apple.quicktime.creationdate"))
        utc = parse_datetime(tags.get("creation_time"))
        if local and local[1] is not None:
            meta.local_taken_at, meta.utc_offset = local
        elif utc:
            value, offset = utc
            meta.taken_at_utc = (value - (offset or timedelta(0))).replace(tzinfo=UTC)
    return meta


# --- Assets ------------------------------------------------------------------------------------------


def read_metadata(path, asset_type: str | None = None) -> MediaMetadata:
    asset_type = asset_type or asset_type_for(path)
    if asset_type == AssetType.VIDEO:
        return read_video(path)
    if asset_type == AssetType.IMAGE:
        return read_image(path)
    raise BadMediaFile(path, "unsupported file type")


def extract_asset(asset_id) -> Asset:
    """AssetExtractMetadata for one asset: file facts, embedded metadata and, when reverse geocoding is
    enabled now, the place. A file whose content cannot be read still gets its file dates (so it shows in
    the timeline) and the reason in `metadata_error`; a missing file raises BadMediaFile."""
    asset = Asset.objects.get(pk=asset_id)
    config = get_config()
    path = asset.original_path
    stat = _stat(path)
    asset.file_size = stat.st_size
    asset.file_modified_at = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
    if asset.file_created_at is None:
        asset.file_created_at = datetime.fromtimestamp(min(stat.st_mtime, stat.st_ctime), tz=UTC)

    try:
        meta = read_metadata(path, asset.type)
        asset.metadata_error = ""
    except BadMediaFile as error:
        log.warning("metadata of %s: %s", asset.id, error)
        meta = MediaMetadata()
        asset.metadata_error = error.reason
    sidecar = companions.find_sidecar(path)
    asset.sidecar_path = str(sidecar or "")
    if sidecar is not None:
        try:
            apply_sidecar(meta, parse_xmp(sidecar.read_bytes()))
        except OSError as error:
            log.warning("metadata of %s: cannot read the sidecar %s (%s)", asset.id, sidecar, error.strerror)

    for field in fields(MediaMetadata):
        if field.name in ("local_taken_at", "utc_offset", "taken_at_utc"):
            continue
        setattr(asset, field.name, getattr(meta, field.name))

    # No date in the file: the file's own date stands in, with no known timezone (as Immich does).
    fallback = min(asset.file_created_at, asset.file_modified_at)
    asset.taken_at = meta.taken_at or fallback
    asset.local_taken_at = meta.local_time or fallback
    asset.timezone = meta.timezone_label

    place = None
    if config.reverseGeocoding.enabled and asset.latitude is not None and asset.longitude is not None:
        place = geocoding.lookup(asset.latitude, asset.longitude)
    asset.city = place.city if place else ""
    asset.state = place.state if place else ""
    asset.country = place.country if place else ""
    asset.country_code = place.country_code if place else ""

    asset.metadata_extracted_at = timezone.now()
    asset.save()
    companions.link_live_photo(asset)
    metadata_extracted.send(sender=Asset, asset=asset)
    return asset


def _stat(path) -> os.stat_result:
    check_readable(path)
    return os.stat(path)


def asset_ids_to_extract(force: bool | None) -> list:
    """The assets an Extract Metadata run covers: ALL (force) = every online asset, MISSING = those never
    extracted."""
    assets = Asset.objects.filter(is_offline=False)
    if not force:
        assets = assets.filter(metadata_extracted_at__isnull=True)
    return list(assets.values_list("id", flat=True))
