"""One form per settings category, derived from the registry. The dashboard, the system-config API, the
config-file loader, imports and management commands all validate through these forms."""

from django import forms

from .kinds import Choice, MultiChoice, StrictBooleanField
from .registry import CATEGORIES, Category, Key


class CategoryForm(forms.Form):
    category: Category

    def __init__(self, *args, locked: frozenset[str] = frozenset(), from_browser: bool = False, **kwargs):
        """`from_browser`: the data is what the dashboard's form submits (a checkbox sends "on" or
        nothing) rather than JSON values."""
        super().__init__(*args, **kwargs)
        self.locked = locked
        for key in self.category.keys:
            if key.path in locked:
                self.fields[key.column].disabled = True
            if isinstance(self.fields[key.column], StrictBooleanField):
                self.fields[key.column].from_checkbox = from_browser

    def key_of(self, column: str) -> Key:
        return next(key for key in self.category.keys if key.column == column)

    def values(self) -> dict:
        """The cleaned values by Immich path."""
        return {key.path: self.cleaned_data.get(key.column) for key in self.category.keys}

    def clean(self):
        cleaned = super().clean()
        check = CROSS_FIELD_CHECKS.get(self.category.slug)
        if check:
            for column, message in check(cleaned):
                self.add_error(column, message)
        return cleaned


def _check_authentication(cleaned: dict):
    from .kinds import validate_url

    if cleaned.get("oauth_mobile_override_enabled"):
        uri = cleaned.get("oauth_mobile_redirect_uri") or ""
        try:
            validate_url(uri)
        except forms.ValidationError:
            yield "oauth_mobile_redirect_uri", "Must be a URL when the mobile redirect override is enabled."


CROSS_FIELD_CHECKS = {"authentication": _check_authentication}


def _build_form(category: Category) -> type[CategoryForm]:
    fields = {}
    for key in category.keys:
        field = key.kind.form_field(label=key.label, help_text=key.help)
        if isinstance(key.kind, Choice) and not isinstance(key.kind, MultiChoice):
            field.choices = key.kind.grouped_choices(key.default)
        field.setting_key = key
        fields[key.column] = field
    return type(f"{category.model_name}Form", (CategoryForm,), {"category": category, **fields})


CATEGORY_FORMS: dict[str, type[CategoryForm]] = {category.slug: _build_form(category) for category in CATEGORIES}
