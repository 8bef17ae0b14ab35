"""Assets (photos and videos) and external libraries, in Immich's shape: the EXIF data Immich keeps in a
separate exif table lives on the asset here, since every asset has exactly one."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Immich's defaults for a new external library: NAS metadata folders and macOS resource forks.
DEFAULT_EXCLUSION_PATTERNS = ["**/@eaDir/**", "**/._*", "**/#recycle/**", "**/#snapshot/**"]


def _default_exclusion_patterns():
    return list(DEFAULT_EXCLUSION_PATTERNS)


class Library(models.Model):
    """An external library: folders on the server's disk, imported read-only for one owner."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="libraries")
    name = models.CharField(max_length=200)
    import_paths = models.JSONField(default=list, blank=True, help_text="Absolute folder paths to import from.")
    exclusion_patterns = models.JSONField(default=_default_exclusion_patterns, blank=True,
                                          help_text="Glob patterns of files and folders to skip.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # What the last scan did, shown on the dashboard.
    last_scanned_at = models.DateTimeField(null=True, blank=True)
    last_scan_new = models.PositiveIntegerField(default=0)
    last_scan_changed = models.PositiveIntegerField(default=0)
    last_scan_offline = models.PositiveIntegerField(default=0)
    last_scan_online = models.PositiveIntegerField(default=0, help_text="Offline files that came back.")
    last_scan_errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "libraries"

    def __str__(self):
        return self.name


class AssetType(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"


class Visibility(models.TextChoices):
    """Immich's AssetVisibility: the timeline shows "timeline" assets; "archive" hides them from it."""

    TIMELINE = "timeline", "Timeline"
    ARCHIVE = "archive", "Archive"
    HIDDEN = "hidden", "Hidden"
    LOCKED = "locked", "Locked"


class Asset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    # Null for uploads; set for files of an external library (never deleted from disk by the server).
    library = models.ForeignKey(Library, null=True, blank=True, on_delete=models.CASCADE, related_name="assets")
    type = models.CharField(max_length=10, choices=AssetType.choices)
    original_path = models.TextField(help_text="Absolute path of the original file.")
    original_filename = models.CharField(max_length=255)
    checksum = models.CharField(max_length=40, db_index=True, help_text="SHA1 of the file, hex.")
    file_size = models.BigIntegerField(default=0)
    file_created_at = models.DateTimeField(null=True, blank=True)
    file_modified_at = models.DateTimeField(null=True, blank=True)
    file_mtime_ns = models.BigIntegerField(
        null=True, blank=True,
        help_text="A library file's st_mtime_ns when last scanned: a rescan compares integers, not dates.")
    created_at = models.DateTimeField(default=timezone.now, help_text="When the server imported it.")
    updated_at = models.DateTimeField(auto_now=True)

    # When the photo was taken: the instant, plus the wall-clock time where it was taken (Immich's
    # localDateTime, stored as if it were UTC) which the timeline groups by day.
    taken_at = models.DateTimeField(null=True, blank=True)
    local_taken_at = models.DateTimeField(null=True, blank=True, db_index=True)
    timezone = models.CharField(max_length=10, blank=True, help_text='UTC offset of the place, e.g. "+03:00".')

    width = models.PositiveIntegerField(null=True, blank=True, help_text="As displayed (after orientation).")
    height = models.PositiveIntegerField(null=True, blank=True)
    orientation = models.PositiveSmallIntegerField(null=True, blank=True, help_text="EXIF orientation 1-8.")
    make = models.CharField(max_length=255, blank=True)
    model = models.CharField(max_length=255, blank=True)
    lens_model = models.CharField(max_length=255, blank=True)
    rating = models.SmallIntegerField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    altitude = models.FloatField(null=True, blank=True, help_text="Metres above sea level.")
    city = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=200, blank=True)
    country_code = models.CharField(max_length=2, blank=True)

    # Videos
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    video_codec = models.CharField(max_length=40, blank=True)
    audio_codec = models.CharField(max_length=40, blank=True)
    frame_rate = models.FloatField(null=True, blank=True)
    # What the transcode decision looks at, in ffprobe's terms (the job probes the file again).
    video_pixel_format = models.CharField(max_length=32, blank=True, help_text="e.g. yuv420p, yuv420p10le")
    video_color_transfer = models.CharField(max_length=32, blank=True, help_text="e.g. bt709, smpte2084 (HDR)")
    video_bitrate = models.BigIntegerField(null=True, blank=True, help_text="Bits per second.")
    video_container = models.CharField(max_length=40, blank=True, help_text="Immich's name: mov, webm, avi…")

    # Generated files, relative to MEDIA_ROOT.
    thumbhash = models.BinaryField(null=True, blank=True)
    thumbnail_path = models.CharField(max_length=500, blank=True)
    preview_path = models.CharField(max_length=500, blank=True)
    fullsize_path = models.CharField(max_length=500, blank=True)
    encoded_video_path = models.CharField(max_length=500, blank=True, help_text="The transcoded MP4, if any.")

    metadata_extracted_at = models.DateTimeField(null=True, blank=True)
    metadata_error = models.TextField(blank=True)
    thumbnails_generated_at = models.DateTimeField(null=True, blank=True)
    thumbnail_error = models.TextField(blank=True)

    storage_error = models.TextField(blank=True, help_text="Why the storage template could not place the original.")

    # The uploading device's own id for the file and the device's id (Immich's deviceAssetId, deviceId),
    # which the mobile app sends and asks about (POST /api/assets/exist) to skip what it already backed up.
    device_asset_id = models.CharField(max_length=255, blank=True)
    device_id = models.CharField(max_length=255, blank=True)

    # Companion files (Immich's sidecarPath and livePhotoVideoId): an XMP sidecar next to the original, and
    # for the still of a live photo its motion video, an asset of its own that the timeline does not show.
    sidecar_path = models.TextField(blank=True, help_text="Absolute path of the XMP sidecar, if any.")
    live_photo_video = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="live_photo_still")
    live_photo_cid = models.CharField(max_length=100, blank=True, db_index=True,
                                      help_text="Apple's ContentIdentifier shared by a live photo's two files.")
    is_favorite = models.BooleanField(default=False)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TIMELINE)
    description = models.TextField(blank=True, help_text="The user's caption (Immich's exifInfo.description).")

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="In the trash since.")
    is_offline = models.BooleanField(default=False, help_text="The library file is missing or excluded.")

    class Meta:
        ordering = ["-local_taken_at", "-created_at"]
        indexes = [
            # Covering (SQLite reads no table row): a timeline page in its order however deep, the month
            # counts of the timeline buckets, and the live-photo and trash/visibility/favourite filters.
            models.Index(fields=["owner", "-local_taken_at", "-created_at", "-id", "file_created_at", "visibility",
                                 "deleted_at", "is_favorite"], name="asset_timeline"),
            models.Index(fields=["owner", "device_id", "device_asset_id"], name="asset_device_ids"),
            # A library rescan reads these four columns of every file, and the few offline ones.
            models.Index(fields=["library", "original_path", "file_size", "file_mtime_ns"],
                         condition=Q(library__isnull=False), name="asset_library_scan"),
            models.Index(fields=["library"], condition=Q(is_offline=True), name="asset_library_offline"),
            # Covering the map markers (deleted_at too: SQLite only counts an index's columns, not its condition).
            models.Index(fields=["owner", "visibility", "id", "latitude", "longitude", "city", "state", "country",
                                 "deleted_at"], name="asset_map_markers",
                         condition=Q(latitude__isnull=False, longitude__isnull=False, deleted_at__isnull=True)),
        ]
        constraints = [
            # An upload is stored once per owner; library files are unique by path in their library.
            models.UniqueConstraint(fields=["owner", "checksum"], condition=Q(library__isnull=True),
                                    name="asset_upload_checksum_unique"),
            models.UniqueConstraint(fields=["library", "original_path"], condition=Q(library__isnull=False),
                                    name="asset_library_path_unique"),
        ]

    def __str__(self):
        return self.original_filename

    @property
    def is_video(self) -> bool:
        return self.type == AssetType.VIDEO


class MoveHistory(models.Model):
    """A file move in progress (Immich's move_history): written before the file is touched, removed once
    the database points at the new path and the old file is gone, so a move interrupted at any step is
    completed or rolled back by the next run."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="moves")
    path_type = models.CharField(max_length=20, default="original")
    old_path = models.TextField()
    new_path = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["asset", "path_type"], name="move_history_one_per_file")]

    def __str__(self):
        return f"{self.old_path} -> {self.new_path}"


class StorageMigrationReport(models.Model):
    """What one Storage Template Migration did, shown to the administrator."""

    template = models.TextField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    moved = models.PositiveIntegerField(default=0)
    in_place = models.PositiveIntegerField(default=0)
    recovered = models.PositiveIntegerField(default=0, help_text="Interrupted moves completed or rolled back.")
    removed_folders = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list, blank=True, help_text="[{asset, path, reason}], the first 1000.")
    skipped_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"storage template migration of {self.started_at:%Y-%m-%d %H:%M}"


class SharedLink(models.Model):
    """A link that shows assets to anyone holding the key, optionally until an expiry date and behind a
    password: a selection of one owner's assets (Immich's type INDIVIDUAL) or an album, as it is now (ALBUM)."""

    INDIVIDUAL = "INDIVIDUAL"
    ALBUM = "ALBUM"
    TYPES = [(INDIVIDUAL, "Individual"), (ALBUM, "Album")]

    key = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=10, choices=TYPES, default=INDIVIDUAL)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shared_links")
    assets = models.ManyToManyField(Asset, related_name="shared_links", blank=True)
    album = models.ForeignKey("albums_app.Album", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="shared_links", help_text="Set for links of type ALBUM.")
    description = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    password_hash = models.CharField(max_length=200, blank=True, help_text="Empty: no password.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.key


class IntegrityReport(models.Model):
    """One finding of an integrity check (Immich's integrity report): kept until a later run of the same
    check no longer finds it or an administrator acts on it."""

    MISSING_FILE = "missing_file"
    UNTRACKED_FILE = "untracked_file"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    TYPES = [(MISSING_FILE, "Missing file"), (UNTRACKED_FILE, "Untracked file"),
             (CHECKSUM_MISMATCH, "Checksum mismatch")]

    type = models.CharField(max_length=20, choices=TYPES)
    path = models.TextField(help_text="Absolute path of the file.")
    file_kind = models.CharField(max_length=20, blank=True,
                                 help_text="original, thumbnail, preview, fullsize or encodedVideo.")
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["type", "path"]
        constraints = [models.UniqueConstraint(fields=["type", "path"], name="one_report_per_file_and_type")]

    def __str__(self):
        return f"{self.get_type_display()}: {self.path}"


class Memory(models.Model):
    """Immich's "on this day" memory: a user's photos taken on one calendar day of an earlier year, shown
    on that day (show_at to hide_at) at the top of the timeline."""

    ON_THIS_DAY = "on_this_day"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories")
    type = models.CharField(max_length=20, default=ON_THIS_DAY)
    year = models.PositiveIntegerField(help_text="The year the photos were taken (Immich's data.year).")
    memory_at = models.DateTimeField(help_text="The day in that year.")
    show_at = models.DateTimeField()
    hide_at = models.DateTimeField()
    seen_at = models.DateTimeField(null=True, blank=True)
    is_saved = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    assets = models.ManyToManyField(Asset, related_name="+")

    class Meta:
        ordering = ["-year"]
        constraints = [models.UniqueConstraint(fields=["owner", "type", "memory_at"], name="one_memory_per_day")]

    def __str__(self):
        return f"{self.owner}: {self.memory_at:%Y-%m-%d}"
