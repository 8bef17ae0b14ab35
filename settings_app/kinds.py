"""Value kinds of settings. A kind knows its database column, its form field and how its value looks in
Immich's JSON, so the registry only declares what a key is and everything else derives from that."""

import ipaddress
import re
import zoneinfo
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from croniter import croniter
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


def validate_cron(value: str) -> None:
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValidationError(
            f"Invalid cron expression “{value}”: use five fields, minute hour day-of-month month "
            "day-of-week (e.g. 0 2 * * *).",
            code="cron",
        )


def next_cron_runs(expression: str, count: int = 3) -> list[datetime]:
    """The next run times of a cron expression in the server's timezone."""
    now = datetime.now(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    runs = croniter(expression, now)
    return [runs.get_next(datetime) for _ in range(count)]


TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def validate_time(value: str) -> None:
    if not TIME_RE.match(value):
        raise ValidationError(f"“{value}” is not a time of day in 24-hour HH:MM form (00:00 to 23:59).")


BITRATE_RE = re.compile(r"^\d+[kKmM]?$")  # whole numbers: ffmpeg gets the text as typed


def validate_bitrate(value: str) -> None:
    if not BITRATE_RE.match(value):
        raise ValidationError(f"“{value}” is not a bitrate: use 0 (no limit), kbit/s (2500) or 2500k / 5M.")


def validate_css(value: str) -> None:
    # The stylesheet is served on its own, but refuse markup that could end a <style> element if any
    # page ever inlines it.
    if re.search(r"</\s*style|<!--|<script", value, re.IGNORECASE):
        raise ValidationError("Custom CSS may not contain “</style”, “<script” or “<!--”.")


def validate_storage_template(value: str) -> None:
    from media_app.storage_template import TemplateError, check_template

    try:
        check_template(value)
    except TemplateError as error:
        raise ValidationError(f"Invalid storage template: {error}")


FORMAT_VALIDATORS = {
    "url": validate_url,
    "url?": validate_url,
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
    """A checkbox for the dashboard (absent = off) that refuses anything but a boolean from the API,
    where Django's BooleanField would read any non-empty string as True."""

    widget = _RawCheckboxInput
    TRUE = {True, "true", "True", "on", "1"}
    FALSE = {False, "false", "False", "off", "0", None, ""}

    def to_python(self, value):
        if value in self.TRUE:
            return True
        if value in self.FALSE:
            return False
        raise ValidationError(f"Must be true or false, not “{value}”.", code="invalid")

    def validate(self, value):
        pass

    def has_changed(self, initial, data):
        return self.to_python(initial) != self.to_python(data)


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
        return forms.IntegerField(
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
        field = forms.FloatField(
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
            "cron": "a cron expression (minute hour day month weekday)",
            "time": "a time of day, HH:MM",
            "bitrate": "0, or a bitrate such as 2500k or 5M",
            "template": "a storage template such as {{y}}/{{MM}}/{{filename}}",
        }.get(self.fmt, f"text, at most {self.max_length} characters")

    def form_field(self, **kwargs):
        validators = [FORMAT_VALIDATORS[self.fmt]] if self.fmt else []
        widget = forms.Textarea(attrs={"rows": 4}) if self.multiline else forms.TextInput
        return forms.CharField(
            max_length=self.max_length,
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


class Secret(Text):
    """Text never rendered back: submitting it empty keeps the stored value."""

    def form_field(self, **kwargs):
        field = super().form_field(**kwargs)
        field.required = False
        field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
        return field


class Choice(Kind):
    def __init__(self, choices: list[tuple[str, str]] | list[str]):
        self.choices = [(c, c) if isinstance(c, str) else c for c in choices]

    @property
    def values(self) -> list[str]:
        return [value for value, _ in self.choices]

    def model_field(self):
        return models.CharField(max_length=100, null=True, blank=True)

    def describe(self):
        return "one of " + ", ".join(self.values)

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
