"""Albums (Immich's album, album_asset and album_user tables): an owner's collection of assets, shared with
other users as viewers or editors, and through shared links (media_app.SharedLink of type ALBUM)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from media_app.models import Asset


class AlbumOrder(models.TextChoices):
    ASC = "asc", "Oldest first"
    DESC = "desc", "Newest first"


class AlbumRole(models.TextChoices):
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class Album(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums")
    name = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    thumbnail = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  help_text="The cover; empty shows the first asset.")
    order = models.CharField(max_length=4, choices=AlbumOrder.choices, default=AlbumOrder.DESC)
    is_activity_enabled = models.BooleanField(default=True)
    assets = models.ManyToManyField(Asset, through="AlbumAsset", related_name="albums")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class AlbumAsset(models.Model):
    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="album_assets")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="album_assets")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["album", "asset"], name="album_asset_once")]

    def __str__(self):
        return f"{self.asset_id} in {self.album_id}"


class AlbumUser(models.Model):
    """A user the album is shared with (the owner is not one of them)."""

    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="album_users")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="album_memberships")
    role = models.CharField(max_length=10, choices=AlbumRole.choices, default=AlbumRole.EDITOR)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at"]
        constraints = [models.UniqueConstraint(fields=["album", "user"], name="album_user_once")]

    def __str__(self):
        return f"{self.user_id} ({self.role}) in {self.album_id}"
