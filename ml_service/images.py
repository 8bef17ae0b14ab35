"""Decoding the uploaded image bytes into the RGB array the models read."""

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF previews (optional on a separate ML machine)
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a project dependency
    pass

MAX_IMAGE_PIXELS = 100_000_000  # refuse decompression bombs (a preview is ~1.5 MP)


class ImageDecodeError(ValueError):
    pass


def decode_image(data: bytes) -> np.ndarray:
    """RGB uint8 array (height, width, 3), turned upright by its EXIF orientation like a displayed preview."""
    if not data:
        raise ImageDecodeError("The image is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise ImageDecodeError(f"The image is larger than {MAX_IMAGE_PIXELS} pixels.")
                upright = ImageOps.exif_transpose(image)
                if upright.mode.startswith("I"):  # 16/32-bit grey: PIL's RGB conversion would clip it to white
                    grey = np.asarray(upright, dtype=np.float64)
                    grey = (255 * grey / max(float(grey.max()), 1.0)).astype(np.uint8)
                    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)
                return np.asarray(upright.convert("RGB"))
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError("The image could not be decoded: not a supported image format.")
    except Image.DecompressionBombError:
        raise ImageDecodeError(f"The image is larger than {MAX_IMAGE_PIXELS} pixels.")
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt files
        raise ImageDecodeError(f"The image could not be decoded: {error}")
