"""Smart search embeddings (Immich's smart_search), duplicate groups and OCR text (asset_ocr), per asset.

Embeddings are float32 blobs, one row per asset and CLIP model: after a model change the old model's rows
keep serving search until every asset has one of the new model (then they are deleted)."""

import uuid

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone

from media_app.models import Asset


class SmartSearch(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=100)
    embedding = models.BinaryField(help_text="float32 little-endian, L2-normalised.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["asset", "model_name"], name="one_embedding_per_model")]
        indexes = [models.Index(fields=["model_name"], name="smart_search_model")]

    def __str__(self):
        return f"{self.asset_id} ({self.model_name})"

    @staticmethod
    def pack(vector) -> bytes:
        return np.asarray(vector, dtype="<f4").tobytes()

    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.embedding), dtype="<f4")


class SearchIndexState(models.Model):
    """Per owner: bumped by every change to the owner's embeddings, so each process's cached matrix knows
    when it is stale; and by a database trigger on every change to a column search filters on (migration
    0002), so each process's copy of those columns knows it too."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                 related_name="+")
    version = models.BigIntegerField(default=0)
    columns_version = models.BigIntegerField(
        default=0, help_text="Bumped by a trigger when an asset's type, name, place, camera, date or trash changes.")

    def __str__(self):
        return f"search index of {self.owner_id} v{self.version}.{self.columns_version}"


class AssetSearchInfo(models.Model):
    """What the ML jobs found for one asset beyond its embedding: duplicate group and OCR state."""

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="search_info")
    duplicate_id = models.UUIDField(null=True, blank=True, db_index=True)
    duplicates_detected_at = models.DateTimeField(null=True, blank=True)
    smart_search_error = models.TextField(blank=True)
    ocr_at = models.DateTimeField(null=True, blank=True)
    ocr_model_name = models.CharField(max_length=100, blank=True)
    ocr_text = models.TextField(blank=True, help_text="All recognised text, for search.")
    ocr_error = models.TextField(blank=True)

    def __str__(self):
        return str(self.asset_id)


class AssetOcr(models.Model):
    """One line of recognised text: its four corners as fractions of the image (Immich's asset_ocr)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="ocr_lines")
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    x3 = models.FloatField()
    y3 = models.FloatField()
    x4 = models.FloatField()
    y4 = models.FloatField()
    box_score = models.FloatField()
    text_score = models.FloatField()
    text = models.TextField()

    class Meta:
        ordering = ["y1", "x1"]

    def __str__(self):
        return self.text
