"""Which files are assets, by extension (as Immich decides), limited to what this server can decode:
Pillow + pillow-heif for images, ffmpeg for videos."""

import os

from .models import AssetType

# Browsers show these directly, so they never need a full-size copy.
WEB_IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".avif", ".bmp"})
OTHER_IMAGE_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".tif", ".tiff", ".jp2"})
IMAGE_EXTENSIONS = WEB_IMAGE_EXTENSIONS | OTHER_IMAGE_EXTENSIONS
VIDEO_EXTENSIONS = frozenset({".3gp", ".avi", ".flv", ".m2ts", ".m4v", ".mkv", ".mov", ".mp4", ".mpg", ".mpeg",
                              ".mts", ".mp2t", ".ts", ".webm", ".wmv"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
TYPE_BY_EXTENSION = {**dict.fromkeys(IMAGE_EXTENSIONS, AssetType.IMAGE),
                     **dict.fromkeys(VIDEO_EXTENSIONS, AssetType.VIDEO)}


def extension(path) -> str:
    """The lower-cased suffix, as pathlib's (".jpg"; "" for ".bashrc" or "name."), at a library scan's pace."""
    name = os.path.basename(os.fspath(path))
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def asset_type_for(path) -> str | None:
    """AssetType for a supported file, None for anything else."""
    return TYPE_BY_EXTENSION.get(extension(path))


def is_web_image(path) -> bool:
    return extension(path) in WEB_IMAGE_EXTENSIONS
