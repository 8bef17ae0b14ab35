"""Immich's storage template language: the Handlebars subset its templates use ({{token}}, {{{token}}},
{{#if token}}…{{else}}…{{/if}}), in strict mode (an unknown token is an error), rendered to a relative
path that can never escape the user's folder."""

import re
from datetime import datetime
from functools import lru_cache

DATE_TOKENS = ("y", "yy", "M", "MM", "MMM", "MMMM", "W", "WW", "d", "dd", "h", "hh", "H", "HH",
               "m", "mm", "s", "ss", "SSS")
OTHER_TOKENS = ("filename", "ext", "filetype", "filetypefull", "assetId", "assetIdShort", "album",
                "make", "model", "lensModel")
ALBUM_DATE_TOKENS = tuple(f"album-{which}-{token}" for which in ("startDate", "endDate") for token in DATE_TOKENS)
TOKENS = frozenset(DATE_TOKENS + OTHER_TOKENS + ALBUM_DATE_TOKENS)

PRESETS = (
    "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
    "{{y}}/{{MM}}-{{dd}}/{{filename}}",
    "{{y}}/{{MMMM}}-{{dd}}/{{filename}}",
    "{{y}}/{{MM}}/{{filename}}",
    "{{y}}/{{#if album}}{{album}}{{else}}Other/{{MM}}{{/if}}/{{filename}}",
    "{{#if album}}{{album-startDate-y}}/{{album}}{{else}}{{y}}/Other/{{MM}}{{/if}}/{{filename}}",
    "{{y}}/{{MMM}}/{{filename}}",
    "{{y}}/{{MMMM}}/{{filename}}",
    "{{y}}/{{MM}}/{{dd}}/{{filename}}",
    "{{y}}/{{MMMM}}/{{dd}}/{{filename}}",
    "{{y}}/{{y}}-{{MM}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
    "{{y}}-{{MM}}-{{dd}}/{{filename}}",
    "{{y}}-{{MMM}}-{{dd}}/{{filename}}",
    "{{y}}-{{MMMM}}-{{dd}}/{{filename}}",
    "{{y}}/{{y}}-{{MM}}/{{filename}}",
    "{{y}}/{{y}}-{{WW}}/{{filename}}",
    "{{y}}/{{y}}-{{MM}}-{{dd}}/{{assetId}}",
    "{{y}}/{{y}}-{{MM}}/{{assetId}}",
    "{{y}}/{{y}}-{{WW}}/{{assetId}}",
    "{{album}}/{{filename}}",
    "{{make}}/{{model}}/{{lensModel}}/{{filename}}",
)

# The sample the dashboard preview renders, as Immich's web does.
SAMPLE_DATE = datetime(2022, 2, 3, 4, 56, 5, 250000)
SAMPLE_VALUES = {
    "filename": "IMAGE_56437", "ext": "jpg", "filetype": "IMG", "filetypefull": "IMAGE",
    "assetId": "a8312960-e277-447d-b4ea-56717ccba856", "assetIdShort": "56717ccba856", "album": "Album Name",
    "make": "FUJIFILM", "model": "X-T50", "lensModel": "XF27mm F2.8 R WR",
}
SAMPLE_ALBUM_DATES = {"startDate": datetime(2021, 12, 31), "endDate": datetime(2023, 5, 6)}

_TAG = re.compile(r"\{\{\{\s*([^}]*?)\s*\}\}\}|\{\{\s*([^}]*?)\s*\}\}")
_UNSAFE = re.compile(r'[<>:"\\|?*\x00-\x1f\x7f]')
# Names Windows refuses for a file or folder (the library may be served over SMB).
RESERVED_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)),
                            *(f"lpt{n}" for n in range(1, 10))})
# Each folder or file name is clamped so that "+N" and the extension still fit in 255 bytes.
MAX_SEGMENT_BYTES = 200


class TemplateError(ValueError):
    pass


@lru_cache(maxsize=64)  # a migration renders one template for every asset
def _parse(template: str) -> list:
    """Parse into a tree: str (literal), ("var", name, escaped), ["if", name, then, otherwise]. Cached, so
    never changed by its callers."""
    root: list = []
    current = root
    open_blocks: list[tuple[list, list]] = []  # (if-node, the list it was appended to)
    position = 0
    for match in _TAG.finditer(template):
        current.append(template[position:match.start()])
        position = match.end()
        raw, escaped = match.group(1), match.group(2)
        expression = raw if raw is not None else escaped
        if expression.startswith("#if "):
            name = expression[4:].strip()
            _check_token(name)
            node = ["if", name, [], None]
            current.append(node)
            open_blocks.append((node, current))
            current = node[2]
        elif expression == "else":
            if not open_blocks or open_blocks[-1][0][3] is not None:
                raise TemplateError("{{else}} without a matching {{#if}}")
            open_blocks[-1][0][3] = current = []
        elif expression == "/if":
            if not open_blocks:
                raise TemplateError("{{/if}} without a matching {{#if}}")
            node, current = open_blocks.pop()
            node[3] = node[3] or []
        elif expression.startswith(("#", "/")):
            raise TemplateError(f"unsupported block “{{{{{expression}}}}}” (only #if is supported)")
        else:
            _check_token(expression)
            current.append(("var", expression, raw is None))
    if open_blocks:
        raise TemplateError(f"{{{{#if {open_blocks[-1][0][1]}}}}} is never closed with {{{{/if}}}}")
    current.append(template[position:])
    if any("{{" in text or "}}" in text for text in _literals(root)):
        raise TemplateError("unbalanced braces")
    return root


def _literals(nodes):
    for node in nodes:
        if isinstance(node, str):
            yield node
        elif node[0] == "if":
            yield from _literals(node[2])
            yield from _literals(node[3])


def uses_album_tokens(template: str) -> bool:
    """Whether the template names an album token anywhere (False for a template that does not parse)."""
    try:
        nodes = _parse(template)
    except TemplateError:
        return False

    def names(tree):
        for node in tree:
            if isinstance(node, tuple):
                yield node[1]
            elif isinstance(node, list):
                yield node[1]
                yield from names(node[2])
                yield from names(node[3])

    return any(name == "album" or name.startswith("album-") for name in names(nodes))


def _check_token(name: str) -> None:
    if name not in TOKENS:
        raise TemplateError(f"unknown variable “{name}”")


def _format_date(value: datetime, token: str) -> str:
    iso_year, iso_week, _ = value.isocalendar()
    return {
        "y": str(value.year), "yy": f"{value.year % 100:02d}",
        "M": str(value.month), "MM": f"{value.month:02d}", "MMM": value.strftime("%b"), "MMMM": value.strftime("%B"),
        "W": str(iso_week), "WW": f"{iso_week:02d}",
        "d": str(value.day), "dd": f"{value.day:02d}",
        "h": str(value.hour % 12 or 12), "hh": f"{value.hour % 12 or 12:02d}",
        "H": str(value.hour), "HH": f"{value.hour:02d}",
        "m": str(value.minute), "mm": f"{value.minute:02d}",
        "s": str(value.second), "ss": f"{value.second:02d}", "SSS": f"{value.microsecond // 1000:03d}",
    }[token]


def _escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;").replace("`", "&#x60;").replace("=", "&#x3D;"))


def _value(name: str, date: datetime, values: dict, album_dates: dict) -> str:
    if name in DATE_TOKENS:
        return _format_date(date, name)
    if name.startswith("album-"):
        _, which, token = name.split("-", 2)
        album_date = album_dates.get(which)
        return _format_date(album_date, token) if album_date else ""
    # A value (an album or camera name) is one folder or file name: its separators are not structure.
    return str(values.get(name) or "").replace("/", "_").replace("\\", "_")


def _render(nodes, date, values, album_dates) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "var":
            text = _value(node[1], date, values, album_dates)
            out.append(_escape(text) if node[2] else text)
        else:
            branch = node[2] if _value(node[1], date, values, album_dates) else node[3]
            out.append(_render(branch, date, values, album_dates))
    return "".join(out)


def _safe_segment(segment: str) -> str:
    segment = _UNSAFE.sub("_", segment).strip().rstrip(". ")
    if segment.split(".")[0].lower() in RESERVED_NAMES:
        segment = "_" + segment
    return segment.encode()[:MAX_SEGMENT_BYTES].decode(errors="ignore")


def render(template: str, date: datetime, values: dict, album_dates: dict | None = None) -> str:
    """Render to a relative path (no extension) of sanitised names: runs of slashes collapse, "." names go,
    each name loses control and reserved characters and is clamped. Raises TemplateError for a ".." name
    (the result would leave the user's folder) or an empty result."""
    text = _render(_parse(template), date, values, album_dates or {})
    segments = [segment for segment in text.split("/") if segment.strip() not in ("", ".")]
    if any(segment.strip() == ".." for segment in segments):
        raise TemplateError(f"renders to “{text}”, which is outside the user's folder (“..”)")
    segments = [safe for safe in map(_safe_segment, segments) if safe]
    if not segments:
        raise TemplateError(f"renders to “{text}”, an empty path")
    return "/".join(segments)


def check_template(template: str) -> str:
    """Validate by compiling and test-rendering with sample data (as Immich's ConfigValidate does)."""
    return render(template, SAMPLE_DATE, SAMPLE_VALUES, SAMPLE_ALBUM_DATES)


# The variables panel of the settings page, grouped as Immich's (SupportedDatetimePanel, SupportedVariablesPanel).
TOKEN_GROUPS = (
    ("Year", ("y", "yy")), ("Month", ("M", "MM", "MMM", "MMMM")), ("Week", ("W", "WW")), ("Day", ("d", "dd")),
    ("Hour", ("h", "hh", "H", "HH")), ("Minute", ("m", "mm")), ("Second", ("s", "ss", "SSS")),
    ("File", ("filename", "ext", "filetype", "filetypefull")), ("Asset", ("assetId", "assetIdShort")),
    ("Camera", ("make", "model", "lensModel")), ("Album", ("album", "album-startDate-y", "album-endDate-y")),
)


def sample_value(token: str) -> str:
    """What the token renders to with the sample data."""
    return _value(token, SAMPLE_DATE, SAMPLE_VALUES, SAMPLE_ALBUM_DATES)
