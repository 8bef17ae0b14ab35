"""ICC profiles for thumbnails. Pillow's ImageCms can only build sRGB (lcms' built-in), so the Display P3
profile is assembled here from its published definition (DCI-P3 primaries, D65 white, the sRGB transfer
curve), as an ICC v4 matrix/TRC display profile — the same colours as Apple's "Display P3"."""

import hashlib
import io
import struct
from functools import cache

from PIL import ImageCms

D50 = (0.9642, 1.0, 0.8249)  # the ICC profile connection space white
D65_XY = (0.3127, 0.3290)
P3_PRIMARIES_XY = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
# IEC 61966-2-1 (sRGB) curve as an ICC parametric type 3: Y = (aX + b)^g for X >= d, else cX
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _mul(a, b):
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))


def _apply(m, v):
    return tuple(sum(m[i][k] * v[k] for k in range(3)) for i in range(3))


def _inverse(m):
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
            ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
            ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det))


def _xy_to_xyz(x, y):
    return (x / y, 1.0, (1 - x - y) / y)


def _bradford_to_d50(white):
    source, target = _apply(BRADFORD, white), _apply(BRADFORD, D50)
    scale = tuple(tuple(target[i] / source[i] if i == j else 0.0 for j in range(3)) for i in range(3))
    return _mul(_inverse(BRADFORD), _mul(scale, BRADFORD))


def _rgb_to_xyz(primaries_xy, white_xy):
    columns = [_xy_to_xyz(*xy) for xy in primaries_xy]
    m = tuple(tuple(columns[j][i] for j in range(3)) for i in range(3))
    s = _apply(_inverse(m), _xy_to_xyz(*white_xy))
    return tuple(tuple(m[i][j] * s[j] for j in range(3)) for i in range(3))


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _mluc_tag(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return b"mluc\0\0\0\0" + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(encoded), 28) + encoded


def _para_tag(params) -> bytes:
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in params)


def _build_matrix_profile(description: str, primaries_xy, white_xy, curve) -> bytes:
    white = _xy_to_xyz(*white_xy)
    chad = _bradford_to_d50(white)
    to_pcs = _mul(chad, _rgb_to_xyz(primaries_xy, white_xy))
    trc = _para_tag(curve)
    tags = [
        (b"desc", _mluc_tag(description)),
        (b"cprt", _mluc_tag("No copyright, use freely")),
        (b"wtpt", _xyz_tag(D50)),
        (b"chad", b"sf32\0\0\0\0" + b"".join(_s15(v) for row in chad for v in row)),
        (b"rXYZ", _xyz_tag(tuple(to_pcs[i][0] for i in range(3)))),
        (b"gXYZ", _xyz_tag(tuple(to_pcs[i][1] for i in range(3)))),
        (b"bXYZ", _xyz_tag(tuple(to_pcs[i][2] for i in range(3)))),
        (b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, data, placed = [], b"", {}
    for signature, body in tags:
        if body not in placed:  # the three TRCs share one copy, as ICC allows
            placed[body] = offset + len(data)
            data += body + b"\0" * (-len(body) % 4)
        table.append(struct.pack(">4sII", signature, placed[body], len(body)))
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + bytes([4, 0x30, 0, 0]) + b"mntr" + b"RGB " + b"XYZ "
              + b"\0" * 12 + b"acsp" + b"APPL" + b"\0" * 4 + b"\0" * 4 + b"\0" * 4 + b"\0" * 8
              + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    profile = bytearray(header + struct.pack(">I", len(tags)) + b"".join(table) + data)
    # Profile ID: MD5 of the profile with flags, intent and ID zeroed (they already are).
    profile[84:100] = hashlib.md5(bytes(profile)).digest()
    return bytes(profile)


@cache
def display_p3_bytes() -> bytes:
    return _build_matrix_profile("Display P3", P3_PRIMARIES_XY, D65_XY, SRGB_CURVE)


@cache
def srgb_bytes() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@cache
def profile(name: str) -> ImageCms.ImageCmsProfile:
    """"p3" or "srgb" as a loaded profile (cached: lcms parses it once per process)."""
    data = display_p3_bytes() if name == "p3" else srgb_bytes()
    return ImageCms.ImageCmsProfile(io.BytesIO(data))


def icc_bytes(name: str) -> bytes:
    return display_p3_bytes() if name == "p3" else srgb_bytes()
