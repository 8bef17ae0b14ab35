"""One model per settings category, generated from the registry: a single row (pk=1) whose columns are
NULL while the key has its default. Only values that differ from the default are stored, so a default
changed in a later release reaches everyone who never touched that key."""

import uuid

from django.conf import settings
from django.db import models

from .registry import CATEGORIES, Category


class CategorySettings(models.Model):
    """The columns every category row has besides its keys."""

    version = models.PositiveIntegerField(default=0, help_text="Bumped by every save; refuses stale edits.")
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self._meta.verbose_name} (version {self.version})"


def _build_model(category: Category) -> type[CategorySettings]:
    attrs = {
        "__module__": __name__,
        "__doc__": f"Stored overrides of the {category.title}.",
        "Meta": type("Meta", (), {"verbose_name": category.title, "verbose_name_plural": category.title}),
    }
    for key in category.keys:
        column = key.kind.model_field()
        column.help_text = f"{key.path} (default: {key.default!r}); empty = default"
        attrs[key.column] = column
    return type(category.model_name, (CategorySettings,), attrs)


CATEGORY_MODELS: dict[str, type[CategorySettings]] = {}
for _category in CATEGORIES:
    CATEGORY_MODELS[_category.slug] = globals()[_category.model_name] = _build_model(_category)


class ConfigState(models.Model):
    """A single row whose token every process polls to learn that some setting changed. A random token
    (not a counter) so that a rolled-back save can never be mistaken for a later one."""

    token = models.CharField(max_length=32, default="")

    def __str__(self):
        return self.token


class SettingChange(models.Model):
    """History: one row per changed key per save."""

    category = models.CharField(max_length=50, db_index=True)
    path = models.CharField(max_length=200)
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    category_version = models.PositiveIntegerField(help_text="The category's version after this save.")
    source = models.CharField(max_length=30, default="dashboard")  # dashboard, api, import, command, revert

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["category", "category_version"])]

    def __str__(self):
        return f"{self.path}: {self.old_value!r} → {self.new_value!r}"


class VersionHistory(models.Model):
    """Immich's version_history: each server version, recorded the first time it runs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "version history"

    def __str__(self):
        return self.version


class ReleaseDismissal(models.Model):
    """An administrator dismissed the "Version X is available" notice for that version (a newer one shows
    again)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.CharField(max_length=40)
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="one_dismissal_per_version")]

    def __str__(self):
        return f"{self.user} dismissed {self.version}"
