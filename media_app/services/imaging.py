"""Opening media files safely: one place that turns every way a file can be bad into a BadMediaFile with a
reason a person can act on."""

import os
import warnings
from pathlib import Path

import pillow_heif
from PIL import Image, UnidentifiedImageError

pillow_heif.register_heif_opener()

# Above this many pixels a file is only decoded if it carries photo-like amounts of data. Real photos
# hold ~0.1-0.5 byte per pixel (a 12 MP phone JPEG is 3-5 MB); a bomb is a tiny file claiming a huge
# canvas: a 100 MP flat PNG is ~0.003 byte/pixel, a 100 MP flat JPEG ~0.015.
SUSPICIOUS_PIXELS = 40_000_000
SUSPICIOUS_BYTES_PER_PIXEL = 0.02
# Nothing larger is ever decoded (Pillow's own hard limit, twice its warning threshold).
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
TRUNCATED = "truncated image: the file ends before the image data does"


class BadMediaFile(Exception):
    """The file cannot be used as an asset; str() names the file and says why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name}: {reason}")


def check_readable(path) -> int:
    """The file's size in bytes; BadMediaFile if it is missing, unreadable or empty."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise BadMediaFile(path, "file not found")
    except OSError as error:
        raise BadMediaFile(path, f"cannot read the file ({error.strerror})")
    if not os.path.isfile(path):
        raise BadMediaFile(path, "not a regular file")
    if size == 0:
        raise BadMediaFile(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise BadMediaFile(path, "permission denied")
    return size


def open_image(path) -> Image.Image:
    """Open (headers only, no pixels decoded yet) with the decompression-bomb checks applied."""
    size = check_readable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        raise BadMediaFile(path, "not an image, or an image format this server cannot read")
    except Image.DecompressionBombError as error:
        raise BadMediaFile(path, f"decompression bomb refused: {error}")
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        if "truncated" in str(error).lower():
            raise BadMediaFile(path, TRUNCATED)
        raise BadMediaFile(path, f"damaged image header ({error})")
    width, height = image.size
    pixels = width * height
    if pixels <= 0:
        image.close()
        raise BadMediaFile(path, f"invalid image dimensions {width}x{height}")
    if pixels > MAX_PIXELS:
        image.close()
        raise BadMediaFile(path, f"decompression bomb refused: {width}x{height} is more than "
                                 f"{MAX_PIXELS // 1_000_000} megapixels")
    if pixels > SUSPICIOUS_PIXELS and size / pixels < SUSPICIOUS_BYTES_PER_PIXEL:
        image.close()
        raise BadMediaFile(path, f"decompression bomb refused: {width}x{height} ({pixels / 1e6:.0f} megapixels) "
                                 f"from a file of only {size / 1024:.0f} KB")
    return image


def load_pixels(image: Image.Image, path) -> None:
    """Decode the pixels, turning decoder failures (truncated or corrupt data) into BadMediaFile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except OSError as error:
        message = str(error)
        if "truncated" in message.lower():
            raise BadMediaFile(path, TRUNCATED)
        raise BadMediaFile(path, f"corrupt image data ({message})")
    except (ValueError, SyntaxError, EOFError) as error:
        raise BadMediaFile(path, f"corrupt image data ({error})")
