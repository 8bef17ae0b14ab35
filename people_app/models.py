"""People and their faces, in Immich's shape (person, asset_face, face_search). A face's embedding is kept
on the face row as float32 bytes (2 KB for 512 dimensions); the clustering keeps an in-process matrix of
them per owner (people_app.services.face_index)."""

import uuid

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone

from media_app.models import Asset


class Person(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="people")
    name = models.CharField(max_length=200, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    is_hidden = models.BooleanField(default=False)
    is_favorite = models.BooleanField(default=False)
    # The face shown as the person's picture (Immich's faceAssetId) and the generated square crop of it.
    face = models.ForeignKey("Face", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    thumbnail_path = models.CharField(max_length=500, blank=True, help_text="Relative to MEDIA_ROOT.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_favorite", "name", "created_at"]
        verbose_name_plural = "people"

    def __str__(self):
        return self.name or f"person {self.pk}"


class Face(models.Model):
    ML, EXIF, MANUAL = "machine-learning", "exif", "manual"  # Immich's SourceType values
    SOURCES = [(ML, "Machine learning"), (EXIF, "Metadata"), (MANUAL, "Manual")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="faces")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="faces")
    # The box in the coordinates of the original image as displayed (after its EXIF orientation), whose
    # size is image_width x image_height.
    x1 = models.IntegerField()
    y1 = models.IntegerField()
    x2 = models.IntegerField()
    y2 = models.IntegerField()
    image_width = models.PositiveIntegerField()
    image_height = models.PositiveIntegerField()
    score = models.FloatField(default=1.0, help_text="Detection confidence, 0-1.")
    source = models.CharField(max_length=20, choices=SOURCES, default=ML)
    model_name = models.CharField(max_length=100, blank=True)
    embedding = models.BinaryField(null=True, blank=True, help_text="float32 little-endian, L2-normalised.")
    # Smaller than MIN_RECOGNITION_FACE_SIZE in the image the model saw: kept and shown, never clustered.
    is_recognizable = models.BooleanField(default=True)
    # A non-core face sent to the back of the queue once (Immich's `deferred` job flag).
    deferred = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset", "x1"]
        indexes = [models.Index(fields=["person", "asset"], name="face_person_asset"),
                   models.Index(fields=["source", "person"], name="face_source_person")]

    def __str__(self):
        return f"face {self.pk} of {self.asset_id}"

    @property
    def vector(self) -> np.ndarray | None:
        return None if self.embedding is None else np.frombuffer(bytes(self.embedding), dtype="<f4")

    @staticmethod
    def pack(vector) -> bytes:
        return np.asarray(vector, dtype="<f4").tobytes()

    def box_in(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The box scaled to an image of another size showing the same picture (e.g. the preview)."""
        sx, sy = width / self.image_width, height / self.image_height
        return self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy


class FaceIndexState(models.Model):
    """Per owner: a counter bumped by every change to the owner's faces that the clustering searches
    (faces added or removed, embeddings replaced, people assigned), so that each process's cached
    embedding matrix knows when it is stale."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                 related_name="+")
    version = models.BigIntegerField(default=0)

    def __str__(self):
        return f"face index of {self.owner_id} v{self.version}"


class AssetFaceStatus(models.Model):
    """When face detection last ran on an asset (Immich's asset_job_status.facesRecognizedAt), with which
    model, and why it failed if it did. MISSING runs take the assets without a detection."""

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="face_status")
    detected_at = models.DateTimeField(null=True, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)

    def __str__(self):
        return f"faces of {self.asset_id}: {self.detected_at or 'not detected'}"
