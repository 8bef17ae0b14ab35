"""Uploads into the upload location (Immich's AssetMediaService.uploadAsset): the file is streamed to
disk while its SHA1 is computed, refused when the owner already has that content (a duplicate is reported,
never stored twice) or when it is not a usable photo or video, then becomes an Asset whose metadata
extraction is queued (which continues to thumbnails)."""

import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, asset_type_for, extension
from ..models import Asset, AssetType
from . import metadata
from .imaging import BadMediaFile, load_pixels, open_image

log = logging.getLogger(__name__)

CREATED, DUPLICATE, REFUSED = "created", "duplicate", "refused"
SUPPORTED = ", ".join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
# Uploads arrive in hidden temporary files of the owner's upload folder, renamed into place when complete.
PARTIAL_PREFIX = ".upload-"
# A partial upload not written to for this long belongs to a request that is gone.
PARTIAL_MAX_AGE_SECONDS = 3600
# A truncated or corrupt image is found by decoding it; JPEG draft mode makes that cheap for big photos.
CHECK_DECODE_SIZE = (256, 256)


@dataclass
class UploadResult:
    filename: str
    status: str  # created | duplicate | refused
    asset_id: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return {"filename": self.filename, "status": self.status, "id": self.asset_id, "reason": self.reason}


def upload_root(owner) -> Path:
    """MEDIA_ROOT/upload/<owner id>/, Immich's upload location."""
    return Path(django_settings.MEDIA_ROOT) / "upload" / str(owner.pk)


def _final_path(owner, asset_id: uuid.UUID, suffix: str) -> Path:
    text = str(asset_id)
    return upload_root(owner) / text[0:2] / text[2:4] / f"{text}{suffix}"


def check_media(path, asset_type: str) -> None:
    """BadMediaFile (with the reason) unless the file is a readable image or video."""
    if asset_type == AssetType.IMAGE:
        image = open_image(path)
        try:
            image.draft("RGB", CHECK_DECODE_SIZE)
            load_pixels(image, path)
        finally:
            image.close()
    else:
        metadata.read_video(path)


def _receive(chunks, folder: Path, suffix: str) -> tuple[Path, str, int]:
    """Write the chunks to a temporary file in the owner's upload folder; (path, sha1, size)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha1(), 0
    handle, name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=suffix, dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                stream.write(chunk)
    except BaseException:  # a full disk, a client gone mid-upload, a worker timeout: no partial file stays
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest(), size


def sweep_partial_uploads(max_age_seconds: float = PARTIAL_MAX_AGE_SECONDS) -> int:
    """Remove the partial uploads a killed server left behind (run at start-up); the number removed.
    Only files not written to for `max_age_seconds`: a younger one may be an upload still arriving at
    another process."""
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in (Path(django_settings.MEDIA_ROOT) / "upload").glob(f"*/{PARTIAL_PREFIX}*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # finished or removed meanwhile
            continue
    return removed


def store_upload(owner, uploaded_file, *, file_created_at=None, file_modified_at=None,
                 sidecar=None, device_asset_id: str = "", device_id: str = "") -> UploadResult:
    """Store one uploaded file (a Django UploadedFile) for `owner`, with its XMP sidecar if one came along
    (Immich's sidecarData), stored as `<original>.xmp` where metadata extraction finds it."""
    filename = Path(uploaded_file.name or "").name or "unnamed"
    asset_type = asset_type_for(filename)
    if asset_type is None:
        return UploadResult(filename, REFUSED, reason=f"unsupported file type “{extension(filename) or 'none'}”: "
                                                        f"expected one of {SUPPORTED}")
    temporary, checksum, size = _receive(uploaded_file.chunks(), upload_root(owner), extension(filename))
    try:
        existing = duplicate_of(owner, checksum)
        if existing is not None:
            return UploadResult(filename, DUPLICATE, str(existing), "already uploaded")
        if size == 0:
            return UploadResult(filename, REFUSED, reason="empty file (0 bytes)")
        try:
            check_media(temporary, asset_type)
        except BadMediaFile as error:
            return UploadResult(filename, REFUSED, reason=error.reason)
        asset_id = uuid.uuid4()
        final = _final_path(owner, asset_id, extension(filename))
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, final)
        if sidecar is not None:
            _store_sidecar(sidecar, final)
        now = timezone.now()
        try:
            with transaction.atomic():
                asset = Asset.objects.create(
                    id=asset_id, owner=owner, type=asset_type, original_path=str(final), original_filename=filename,
                    checksum=checksum, file_size=size, file_created_at=file_created_at or file_modified_at or now,
                    file_modified_at=file_modified_at or now, sidecar_path=str(sidecar_path(final)) if sidecar else "",
                    device_asset_id=device_asset_id, device_id=device_id)
        except BaseException as error:  # no row, so no file either
            final.unlink(missing_ok=True)
            sidecar_path(final).unlink(missing_ok=True)
            if not isinstance(error, IntegrityError):
                raise
            # The same content uploaded at the same moment by another request.
            return UploadResult(filename, DUPLICATE, str(duplicate_of(owner, checksum) or ""), "already uploaded")
        from ..tasks import queue_metadata  # the job layer imports the services, not the other way round

        transaction.on_commit(lambda: queue_metadata(asset.id, "upload"))
        return UploadResult(filename, CREATED, str(asset.id))
    finally:
        temporary.unlink(missing_ok=True)


def existing_device_assets(owner, device_id: str, device_asset_ids: list[str]) -> list[str]:
    """Which of these device-side ids the owner's device already uploaded (trashed ones too: still here)."""
    return list(Asset.objects.filter(owner=owner, device_id=device_id, device_asset_id__in=set(device_asset_ids))
                .values_list("device_asset_id", flat=True).distinct())


def sidecar_path(original: Path) -> Path:
    return original.with_name(original.name + ".xmp")


def _store_sidecar(sidecar, original: Path) -> None:
    temporary, _, _ = _receive(sidecar.chunks(), original.parent, ".xmp")
    os.replace(temporary, sidecar_path(original))


def duplicate_of(owner, checksum: str):
    """The id of the owner's uploaded asset with this content, or None."""
    return Asset.objects.filter(owner=owner, checksum=checksum, library__isnull=True).values_list(
        "id", flat=True).first()


# --- Removing a user's media ----------------------------------------------------------------------------


def remove_user_media(user) -> None:
    """When a user is purged: their uploaded originals and every generated file go once the deletion is
    committed; files of external libraries are never touched (they are the owner's, on the server's disk).
    The asset rows go with the user (cascade)."""
    uploaded = [Path(path) for path in Asset.objects.filter(owner=user, library__isnull=True)
                .values_list("original_path", flat=True)]
    folders = [upload_root(user), Path(django_settings.MEDIA_ROOT) / "thumbs" / str(user.pk)]
    root = Path(django_settings.MEDIA_ROOT).resolve()

    def remove():
        for path in uploaded:
            # Only files inside the upload location: an upload row can never point into a library.
            if path.resolve().is_relative_to(root / "upload"):
                path.unlink(missing_ok=True)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    transaction.on_commit(remove)

