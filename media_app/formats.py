"""Which files are assets, by extension (as Immich decides), limited to what this server can decode:
Pillow + pillow-heif for images, ffmpeg for videos."""

from pathlib import PurePath

from .models import AssetType

# Browsers show these directly, so they never need a full-size copy.
WEB_IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".avif", ".bmp"})
OTHER_IMAGE_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".tif", ".tiff", ".jp2"})
IMAGE_EXTENSIONS = WEB_IMAGE_EXTENSIONS | OTHER_IMAGE_EXTENSIONS
VIDEO_EXTENSIONS = frozenset({".3gp", ".avi", ".flv", ".m2ts", ".m4v", ".mkv", ".mov", ".mp4", ".mpg", ".mpeg",
                              ".mts", ".mp2t", ".ts", ".webm", ".wmv"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})


def extension(path) -> str:
    return PurePath(str(path)).suffix.lower()


def asset_type_for(path) -> str | None:
    """AssetType for a supported file, None for anything else."""
    suffix = extension(path)
    if suffix in IMAGE_EXTENSIONS:
        return AssetType.IMAGE
    if suffix in VIDEO_EXTENSIONS:
        return AssetType.VIDEO
    return None


def is_web_image(path) -> bool:
    return extension(path) in WEB_IMAGE_EXTENSIONS
