"""Value kinds of settings. A kind knows its database column, its form field and how its value looks in
Immich's JSON, so the registry only declares what a key is and everything else derives from that."""

import ipaddress
import re
import zoneinfo
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from croniter import CroniterBadDateError, croniter
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

INT32_MAX = 2**31 - 1
# Hosts may be single labels (localhost, a container name such as immich-machine-learning), which
# Django's URLValidator refuses.
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def _valid_host(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        return bool(_HOSTNAME_RE.match(hostname))


def validate_url(value: str) -> None:
    message = f"“{value}” is not a valid http(s) URL."
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        raise ValidationError(message, code="url")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValidationError(message, code="url")
    if parts.scheme not in ("http", "https") or not _valid_host(parts.hostname or ""):
        raise ValidationError(message, code="url")


CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
CRON_NAMES = {**{name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)},
    **{name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}}
# A cron that matches no date in this many years never runs (every valid five-field cron matches at
# least once in 4 years: the 29th of February). It also bounds croniter's search, so a save stays fast.
CRON_HORIZON_YEARS = 5


def _cron_bound(text: str) -> int | None:
    text = text.lower()
    return int(text) if text.isascii() and text.isdigit() else CRON_NAMES.get(text)


def _reversed_range(expression: str) -> str:
    """Why the expression holds a range written high-low ("1-0"), which croniter would silently wrap
    around, or "" when it holds none."""
    for field_name, field_text in zip(CRON_FIELDS, expression.split(), strict=True):
        for item in field_text.split(","):
            low, dash, high = item.split("/")[0].partition("-")
            low_value, high_value = _cron_bound(low), _cron_bound(high)
            if dash and low_value is not None and high_value is not None and low_value > high_value:
                return f"the {field_name} range “{item.split('/')[0]}” runs backwards"
    return ""


class CronNeverRuns(ValidationError):
    """A cron expression of valid syntax that matches no date (e.g. 0 0 31 2 *: the 31st of February)."""


def next_cron_runs(expression: str, count: int = 3, after: datetime | None = None) -> list[datetime]:
    """The next run times of a valid cron expression in the server's timezone, after `after` (default
    now). Raises ValidationError when the expression is invalid or never runs."""
    validate_cron(expression)
    return _next_runs(expression, count, after)


def _next_runs(expression: str, count: int, after: datetime | None) -> list[datetime]:
    timezone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = after.astimezone(timezone) if after else datetime.now(timezone)
    runs = croniter(expression, start, max_years_between_matches=CRON_HORIZON_YEARS)
    try:
        return [runs.get_next(datetime) for _ in range(count)]
    except CroniterBadDateError:
        raise CronNeverRuns(
            f"Never runs: no date in the next {CRON_HORIZON_YEARS} years matches “{expression}”.", code="cron_never"
        )


def validate_cron(value: str) -> None:
    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValidationError(
            f"Invalid cron expression “{value}”: use five fields, minute hour day-of-month month "
            "day-of-week (e.g. 0 2 * * *).",
            code="cron",
        )
    if backwards := _reversed_range(value):
        raise ValidationError(
            f"Invalid cron expression “{value}”: {backwards}; write the smaller value first.", code="cron"
        )
    _next_runs(value, 1, None)


TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def validate_time(value: str) -> None:
    if not TIME_RE.match(value):
        raise ValidationError(f"“{value}” is not a time of day in 24-hour HH:MM form (00:00 to 23:59).")


BITRATE_RE = re.compile(r"^[0-9]+[kKmM]?$")  # whole ASCII numbers: ffmpeg gets the text as typed


def validate_bitrate(value: str) -> None:
    if not BITRATE_RE.match(value):
        raise ValidationError(f"“{value}” is not a bitrate: use 0 (no limit), kbit/s (2500) or 2500k / 5M.")


CSS_MAX_BYTES = 65536
_CSS_COMMENT_RE = re.compile(r"/\*.*?(\*/|$)", re.DOTALL)
_CSS_ESCAPE_RE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|(.))")
# After comments are dropped and escapes decoded (so `u\72l(` and `@\69mport` are caught too).
_CSS_FORBIDDEN = (
    (re.compile(r"@import\b", re.IGNORECASE), "@import is not allowed (it loads another stylesheet)"),
    (re.compile(r"\bexpression\s*\(", re.IGNORECASE), "expression() is not allowed (it runs script)"),
    (re.compile(r"-moz-binding", re.IGNORECASE), "-moz-binding is not allowed (it runs script)"),
    (re.compile(r"\bbehavior\s*:", re.IGNORECASE), "behavior: is not allowed (it runs script)"),
)
_CSS_URL_RE = re.compile(r"\b(url|src)\s*\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\s]*))\s*(\))?", re.IGNORECASE)
_CSS_IMAGE_SET_RE = re.compile(r"\b(?:-webkit-)?image(?:-set)?\s*\(([^)]*)", re.IGNORECASE)
_CSS_STRING_RE = re.compile(r"\"([^\"]*)\"|'([^']*)'")


def _decode_css_escapes(line: str) -> str:
    def replace(match):
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return match.group(2)

    return _CSS_ESCAPE_RE.sub(replace, line.rstrip("\\"))


def _same_origin_or_data(url: str) -> bool:
    """data: URIs and paths on this server (`/static/x.png`, `img/x.png`); not `//host/...` nor any scheme."""
    url = url.strip()
    if url.lower().startswith("data:"):
        return True
    if url.startswith(("//", "\\")) or "\\" in url:
        return False
    return urlsplit(url).scheme == "" and ":" not in url.split("/", 1)[0]


def css_problems(css: str) -> list[str]:
    """Why a custom stylesheet is refused, one message per problem with its line number; [] when fine.
    Comments are dropped (their line breaks kept) and CSS escapes decoded before looking."""
    without_comments = _CSS_COMMENT_RE.sub(lambda match: "\n" * match.group(0).count("\n"), css)
    problems = []
    for number, raw_line in enumerate(without_comments.split("\n"), start=1):
        line = _decode_css_escapes(raw_line)
        for pattern, reason in _CSS_FORBIDDEN:
            if pattern.search(line):
                problems.append(f"Line {number}: {reason}.")
        for match in _CSS_URL_RE.finditer(line):
            function = match.group(1).lower()
            target = next((part for part in match.group(2, 3, 4) if part is not None), "")
            if match.group(5) is None:
                problems.append(f"Line {number}: {function}( is not closed on the same line; write it as "
                                f"{function}(\"…\") on one line.")
            elif not _same_origin_or_data(target):
                problems.append(f"Line {number}: {function}({target}) is not allowed: only data: URIs and paths "
                                "on this server may be loaded.")
        for match in _CSS_IMAGE_SET_RE.finditer(line):
            for string in _CSS_STRING_RE.finditer(match.group(1)):
                target = string.group(1) if string.group(1) is not None else string.group(2)
                if not _same_origin_or_data(target):
                    problems.append(f"Line {number}: image “{target}” is not allowed: only data: URIs and paths "
                                    "on this server may be loaded.")
    return problems


def validate_css(value: str) -> None:
    size = len(value.encode())
    if size > CSS_MAX_BYTES:  # checked before parsing anything
        raise ValidationError(f"Custom CSS is {size:,} bytes; the limit is {CSS_MAX_BYTES:,} bytes (64 KiB).")
    # The stylesheet is served on its own, but refuse markup that could end a <style> element if any
    # page ever inlines it.
    if re.search(r"</\s*style|<!--|<script", value, re.IGNORECASE):
        raise ValidationError("Custom CSS may not contain “</style”, “<script” or “<!--”.")
    if problems := css_problems(value):
        raise ValidationError(problems)


def validate_external_domain(value: str) -> None:
    validate_url(value)
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "The external domain must not contain a user name or password (user:pass@): it is shown in every "
            "shared link and email.", code="url",
        )


def validate_oauth_scope(value: str) -> None:
    if "openid" not in value.split():
        raise ValidationError("The scope must include openid, e.g. “openid email profile” (this server logs in "
                              "with OpenID Connect).")


def validate_storage_template(value: str) -> None:
    from media_app.storage_template import TemplateError, check_template

    try:
        check_template(value)
    except TemplateError as error:
        raise ValidationError(f"Invalid storage template: {error}")


FORMAT_VALIDATORS = {
    "url": validate_url,
    "url?": validate_url,
    "domain?": validate_external_domain,
    "scope": validate_oauth_scope,
    "cron": validate_cron,
    "time": validate_time,
    "bitrate": validate_bitrate,
    "css": validate_css,
    "template": validate_storage_template,
}


class _RawCheckboxInput(forms.CheckboxInput):
    # CheckboxInput.value_from_datadict turns any string but "true"/"false" into True ("0", "off",
    # "maybe"); hand the submitted value to the field as it is, so that the field can refuse it.
    def value_from_datadict(self, data, files, name):
        return data.get(name)


class StrictBooleanField(forms.Field):
    """A boolean that refuses what Django's BooleanField would read as True (any non-empty string).

    From the dashboard (`from_checkbox`) only what the checkbox itself submits is taken: its value "on"
    when ticked, nothing when not. From JSON (API, config file) a boolean, or Immich's "true"/"false"."""

    widget = _RawCheckboxInput
    CHECKBOX_ON = "on"  # what a browser submits for a ticked checkbox that has no value attribute
    JSON_VALUES = {True: True, False: False, "true": True, "false": False}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.from_checkbox = False

    def to_python(self, value):
        if self.from_checkbox:
            # Python booleans are the stored values of keys the browser did not submit (locked ones).
            if value is None or value is False:
                return False
            if value == self.CHECKBOX_ON or value is True:
                return True
            raise ValidationError(
                f"“{value}” is not a value of this checkbox: tick it or leave it unticked.", code="invalid"
            )
        if isinstance(value, bool | str) and value in self.JSON_VALUES:
            return self.JSON_VALUES[value]
        raise ValidationError(f"Must be true or false, not “{value}”.", code="invalid")

    def validate(self, value):
        pass

    def has_changed(self, initial, data):
        return bool(initial) != self.to_python(data)


# int() and float() read any Unicode digit ("٣" and "３" are 3) and underscores ("1_000"): a number
# given as text must be written in ASCII digits, as number inputs and JSON write them.
ASCII_INTEGER_RE = re.compile(r"[+-]?[0-9]+(\.0*)?")
ASCII_NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class _AsciiNumberMixin:
    ascii_pattern: re.Pattern

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip()
            if value and not self.ascii_pattern.fullmatch(value):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class AsciiIntegerField(_AsciiNumberMixin, forms.IntegerField):
    ascii_pattern = ASCII_INTEGER_RE


class AsciiFloatField(_AsciiNumberMixin, forms.FloatField):
    ascii_pattern = ASCII_NUMBER_RE


class LinesField(forms.Field):
    """A list of strings: one per line in the dashboard, a JSON array in the API."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *, item_validator=None, min_items=0, **kwargs):
        self.item_validator = item_validator
        self.min_items = min_items
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, str):
            return [line.strip() for line in value.splitlines() if line.strip()]
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return [item.strip() for item in value if item.strip()]
        raise ValidationError("Must be a list of strings.", code="invalid")

    def validate(self, value):
        if len(value) < self.min_items:
            raise ValidationError(f"At least {self.min_items} entry is required.", code="min_items")
        for item in value:
            if self.item_validator:
                self.item_validator(item)


class Kind:
    """Base of all kinds. `null=True` columns: NULL means "use the default"."""

    # JSON types the API accepts for this kind before the form validates the value itself.
    json_types: tuple[type, ...] = (str,)
    json_type_name = "a string"

    def model_field(self) -> models.Field:
        raise NotImplementedError

    def form_field(self, **kwargs) -> forms.Field:
        raise NotImplementedError

    def describe(self) -> str:
        """The allowed values in words, shown under the field and used in error messages."""
        return ""

    def to_json(self, value: Any) -> Any:
        return value

    def is_empty(self, value: Any) -> bool:
        return value is None or value == ""


class Bool(Kind):
    json_types = (bool, str)
    json_type_name = "true or false"
    def model_field(self):
        return models.BooleanField(null=True, blank=True)

    def form_field(self, **kwargs):
        return StrictBooleanField(required=False, **kwargs)

    def describe(self):
        return "on or off"


class Int(Kind):
    json_types = (int, float, str)  # 12.0 is 12; the form refuses 12.5
    json_type_name = "a whole number"
    def __init__(self, min_value: int | None = None, max_value: int | None = None, unit: str = ""):
        self.min_value = min_value
        self.max_value = max_value if max_value is not None else INT32_MAX
        self.unit = unit

    def model_field(self):
        return models.BigIntegerField(null=True, blank=True)

    def describe(self):
        unit = f" {self.unit}" if self.unit else ""
        if self.max_value == INT32_MAX:
            return f"a whole number ≥ {self.min_value}{unit}"
        return f"a whole number from {self.min_value} to {self.max_value}{unit}"

    def form_field(self, **kwargs):
        message = f"Must be {self.describe()}."
        return AsciiIntegerField(
            min_value=self.min_value,
            max_value=self.max_value,
            error_messages={
                "min_value": message,
                "max_value": message,
                "invalid": message,
                "required": message,
            },
            **kwargs,
        )


class Float(Kind):
    json_types = (int, float, str)
    json_type_name = "a number"
    def __init__(self, min_value: float, max_value: float, step: float = 0.01):
        self.min_value, self.max_value, self.step = min_value, max_value, step

    def model_field(self):
        return models.FloatField(null=True, blank=True)

    def describe(self):
        return f"a number from {self.min_value:g} to {self.max_value:g}"

    def form_field(self, **kwargs):
        message = f"Must be {self.describe()}."
        field = AsciiFloatField(
            min_value=self.min_value,
            max_value=self.max_value,
            error_messages={"min_value": message, "max_value": message, "invalid": message, "required": message},
            **kwargs,
        )
        field.widget.attrs["step"] = self.step
        return field


class OptionalInt(Int):
    """A whole number or nothing (blank / JSON null)."""

    json_types = (int, float, str, type(None))
    json_type_name = "a whole number or null"

    def describe(self):
        return f"empty, or {super().describe()}"

    def form_field(self, **kwargs):
        kwargs["required"] = False
        return super().form_field(**kwargs)


class Text(Kind):
    """Free text, optionally of a format: url, url-or-empty, cron, time."""

    def __init__(self, max_length: int = 1000, fmt: str = "", multiline: bool = False, blank: bool = True):
        self.max_length, self.fmt, self.multiline, self.blank = max_length, fmt, multiline, blank

    def model_field(self):
        return models.TextField(null=True, blank=True)

    def describe(self):
        return {
            "url": "an http(s) URL",
            "url?": "empty, or an http(s) URL",
            "domain?": "empty, or an http(s) address without user name or password",
            "scope": "space-separated OAuth scopes including openid",
            "css": f"CSS, at most {CSS_MAX_BYTES:,} bytes",
            "cron": "a cron expression (minute hour day month weekday)",
            "time": "a time of day, HH:MM",
            "bitrate": "0, or a bitrate such as 2500k or 5M",
            "template": "a storage template such as {{y}}/{{MM}}/{{filename}}",
        }.get(self.fmt, f"text, at most {self.max_length} characters")

    def form_field(self, **kwargs):
        validators = [FORMAT_VALIDATORS[self.fmt]] if self.fmt else []
        if self.multiline:
            widget = forms.Textarea(attrs={"rows": 4})
        elif self.fmt == "time":
            widget = forms.TimeInput(attrs={"type": "time", "step": 60}, format="%H:%M")
        else:
            widget = forms.TextInput
        field = forms.CharField(
            max_length=self.character_limit(),
            required=not self.blank,
            strip=self.fmt != "",
            validators=validators,
            widget=widget,
            error_messages={
                "max_length": f"Must be at most {self.max_length} characters (it has %(show_value)d).",
                "required": f"Required: {self.describe()}.",
            },
            **kwargs,
        )
        # No maxlength attribute: a browser would cut what is typed or pasted without a word; the server
        # names the limit instead.
        field.widget.attrs.pop("maxlength", None)
        return field

    def character_limit(self) -> int | None:
        return self.max_length


class Css(Text):
    """Custom CSS: limited in bytes (64 KiB), which validate_css checks before looking inside."""

    def __init__(self):
        super().__init__(CSS_MAX_BYTES, fmt="css", multiline=True)

    def character_limit(self):
        return None


class Secret(Text):
    """Text never rendered back: submitting it empty keeps the stored value."""

    def form_field(self, **kwargs):
        field = super().form_field(**kwargs)
        field.required = False
        field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
        return field


# Longer lists of choices are described by their count, and their names are read in the list itself.
CHOICES_NAMED_IN_FULL = 12


class Choice(Kind):
    """One of a list of values. `group_of` (value -> group title) shows a long list in groups, with a
    filter above it (e.g. CLIP models by embedding size); the groups keep the order the values come in."""

    def __init__(self, choices: list[tuple[str, str]] | list[str], group_of: dict[str, str] | None = None):
        self.choices = [(c, c) if isinstance(c, str) else c for c in choices]
        self.group_of = group_of

    @property
    def values(self) -> list[str]:
        return [value for value, _ in self.choices]

    def model_field(self):
        return models.CharField(max_length=100, null=True, blank=True)

    def describe(self):
        if len(self.values) > CHOICES_NAMED_IN_FULL:
            return f"one of the {len(self.values)} names in the list"
        return "one of " + ", ".join(self.values)

    def grouped_choices(self, default: str) -> list:
        """The choices as the select shows them: the default marked, in groups when declared."""
        marked = [(value, f"{label} (default)" if value == default else label) for value, label in self.choices]
        if not self.group_of:
            return marked
        groups: dict[str, list] = {}
        for value, label in marked:
            groups.setdefault(self.group_of.get(value, "Other"), []).append((value, label))
        return list(groups.items())

    def form_field(self, **kwargs):
        return forms.ChoiceField(
            choices=self.choices,
            error_messages={
                "invalid_choice": f"“%(value)s” is not allowed: must be {self.describe()}.",
                "required": f"Required: {self.describe()}.",
            },
            **kwargs,
        )


class MultiChoice(Choice):
    json_types = (list,)
    json_type_name = "a list"
    def __init__(self, choices, numeric: bool = False):
        super().__init__(choices)
        self.numeric = numeric

    def model_field(self):
        return models.JSONField(null=True, blank=True)

    def describe(self):
        return "any of " + ", ".join(self.values)

    def to_json(self, value):
        return [int(v) for v in value] if self.numeric else list(value)

    def form_field(self, **kwargs):
        return forms.TypedMultipleChoiceField(
            choices=self.choices,
            coerce=int if self.numeric else str,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            error_messages={
                "invalid_choice": f"“%(value)s” is not allowed: must be {self.describe()}.",
                "invalid_list": "Must be a list.",
            },
            **kwargs,
        )

    def is_empty(self, value):
        return value is None


class UrlList(Kind):
    json_types = (list,)
    json_type_name = "a list of URLs"
    def __init__(self, min_items: int = 1):
        self.min_items = min_items

    def model_field(self):
        return models.JSONField(null=True, blank=True)

    def describe(self):
        return f"at least {self.min_items} http(s) URL, one per line"

    def form_field(self, **kwargs):
        return LinesField(item_validator=validate_url, min_items=self.min_items, required=False, **kwargs)

    def is_empty(self, value):
        return value is None
