"""Integrity checks (Immich's integrity service): missing files, untracked files and checksum mismatches,
each written as IntegrityReport rows that the administrator's page lists with its actions.

- Missing files: assets whose original (uploads only: external library files are the library scan's
  business), thumbnail, preview, full-size file or encoded video is gone.
- Untracked files: files under the media folder's trees of this server (uploads, the storage template's
  library, thumbnails, encoded videos) that no asset refers to (as its original, sidecar or a generated
  file; a live photo's motion video is an asset of its own), nor anything another app registered
  (`register_tracked_files`: e.g. people's thumbnails). The external libraries' folders are never looked
  at, so nothing in them is ever reported or deleted.
- Checksums: originals re-hashed and compared with the stored SHA1, at most `timeLimit` ms and
  `percentageLimit` of the assets per run, going on from a stored checkpoint at the next run."""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from jobs_app.models import JobsMetadata
from settings_app.services import get_config

from ..models import Asset, IntegrityReport
from . import trash
from .files import sha1_of
from .thumbnails import absolute
from .upload import PARTIAL_PREFIX

log = logging.getLogger(__name__)

CHECKSUM_CHECKPOINT = "integrity-checksum-checkpoint"
# The folders of the media root whose files belong to something in the database.
TRACKED_TREES = ("upload", "library", "thumbs", "encoded-video")
DERIVED_KINDS = ("thumbnail", "preview", "fullsize")
ENCODED_VIDEO = "encodedVideo"
# A file being written by a job in flight (an encode's temporary output), never reported as untracked.
IN_FLIGHT_MARK = ".partial."

# Other apps' files under the tracked trees (e.g. people's thumbnails): functions giving their paths.
_tracked_file_sources: list[Callable[[], Iterable[Path]]] = []


def register_tracked_files(source: Callable[[], Iterable[Path]]) -> None:
    """An app whose files live under the media root tells the untracked-files check which are its own."""
    if source not in _tracked_file_sources:
        _tracked_file_sources.append(source)


def _replace_reports(report_type: str, found: list[IntegrityReport]) -> int:
    """A run's findings replace the previous run's; a file still reported keeps its first found_at."""
    with transaction.atomic():
        known = {report.path: report for report in IntegrityReport.objects.filter(type=report_type)}
        paths = {report.path for report in found}
        IntegrityReport.objects.filter(type=report_type).exclude(path__in=paths).delete()
        IntegrityReport.objects.bulk_create([report for report in found if report.path not in known])
    return len(found)


def check_missing_files() -> int:
    found = []
    assets = Asset.objects.filter(deleted_at__isnull=True).only(
        "id", "library_id", "original_path", "thumbnail_path", "preview_path", "fullsize_path", "encoded_video_path")
    for asset in assets.iterator():
        files = [("original", Path(asset.original_path))] if asset.library_id is None else []
        files += [(kind, absolute(getattr(asset, f"{kind}_path"))) for kind in DERIVED_KINDS
                  if getattr(asset, f"{kind}_path")]
        if asset.encoded_video_path:
            files.append((ENCODED_VIDEO, absolute(asset.encoded_video_path)))
        found += [IntegrityReport(type=IntegrityReport.MISSING_FILE, path=str(path), file_kind=kind, asset=asset)
                  for kind, path in files if not path.is_file()]
    return _replace_reports(IntegrityReport.MISSING_FILE, found)


def _tracked_paths() -> set[str]:
    tracked = set()
    derived_fields = (*(f"{kind}_path" for kind in DERIVED_KINDS), "encoded_video_path")
    for original, sidecar, *derived in Asset.objects.values_list("original_path", "sidecar_path", *derived_fields):
        tracked.add(str(Path(original).resolve()))
        if sidecar:
            tracked.add(str(Path(sidecar).resolve()))
        tracked.update(str(absolute(path).resolve()) for path in derived if path)
    for source in _tracked_file_sources:
        tracked.update(str(Path(path).resolve()) for path in source())
    return tracked


def check_untracked_files() -> int:
    media_root = Path(django_settings.MEDIA_ROOT).resolve()
    tracked, found = _tracked_paths(), []
    for tree in TRACKED_TREES:
        for path in sorted((media_root / tree).rglob("*")):
            # Partial uploads are swept at start-up; temporary renders are a job in flight.
            if (path.is_symlink() or not path.is_file() or path.name.startswith((PARTIAL_PREFIX, "."))
                    or IN_FLIGHT_MARK in path.name):
                continue
            if str(path.resolve()) not in tracked:
                found.append(IntegrityReport(type=IntegrityReport.UNTRACKED_FILE, path=str(path)))
    return _replace_reports(IntegrityReport.UNTRACKED_FILE, found)


@dataclass(frozen=True)
class ChecksumRun:
    checked: int
    mismatches: int
    finished: bool  # the whole library was covered: the next run starts from the beginning


def check_checksums(*, clock=time.monotonic) -> ChecksumRun:
    """Re-hash originals in id order from the checkpoint, within the run's time and share limits."""
    limits = get_config().integrityChecks.checksumFiles
    candidates = Asset.objects.filter(deleted_at__isnull=True, is_offline=False).order_by("id")
    total = candidates.count()
    budget = max(1, int(total * limits.percentageLimit)) if limits.percentageLimit > 0 else 0
    checkpoint = JobsMetadata.objects.filter(key=CHECKSUM_CHECKPOINT).first()
    after = checkpoint.value.get("lastId") if checkpoint else None
    remaining = candidates.filter(id__gt=after) if after else candidates
    deadline = clock() + limits.timeLimit / 1000
    checked, last_id, mismatched, cleared = 0, after, [], []
    for asset in remaining.only("id", "original_path", "checksum").iterator():
        if checked >= budget or clock() > deadline:
            break
        path = Path(asset.original_path)
        if path.is_file():  # a missing original is the missing-files check's finding
            (mismatched if sha1_of(path) != asset.checksum else cleared).append(asset)
        checked, last_id = checked + 1, str(asset.id)
    finished = not remaining.filter(id__gt=last_id).exists() if last_id else True
    with transaction.atomic():
        IntegrityReport.objects.filter(type=IntegrityReport.CHECKSUM_MISMATCH, asset__in=cleared).delete()
        for asset in mismatched:
            IntegrityReport.objects.get_or_create(type=IntegrityReport.CHECKSUM_MISMATCH, path=asset.original_path,
                                                  defaults={"asset": asset, "file_kind": "original"})
        JobsMetadata.objects.update_or_create(key=CHECKSUM_CHECKPOINT,
                                              defaults={"value": {"lastId": None if finished else last_id,
                                                                  "updatedAt": timezone.now().isoformat()}})
    return ChecksumRun(checked, len(mismatched), finished)


# --- What the administrator sees and does ----------------------------------------------------------------


def summary() -> dict:
    return {key: IntegrityReport.objects.filter(type=key).count() for key, _ in IntegrityReport.TYPES}


def regenerate_missing_derived() -> int:
    """Queue thumbnail generation for every asset with a missing thumbnail, preview or full-size file, and
    the transcode of every video whose encoded file is gone; the number of jobs queued."""
    from jobs_app import services as jobs_services  # the jobs engine; the report module stays importable alone

    missing = IntegrityReport.objects.filter(type=IntegrityReport.MISSING_FILE, asset__isnull=False)
    jobs = {("thumbnailGeneration", "AssetGenerateThumbnails", asset_id)
            for asset_id in missing.filter(file_kind__in=DERIVED_KINDS).values_list("asset_id", flat=True)}
    jobs |= {("videoConversion", "AssetEncodeVideo", asset_id)
             for asset_id in missing.filter(file_kind=ENCODED_VIDEO).values_list("asset_id", flat=True)}
    for queue, name, asset_id in jobs:
        jobs_services.enqueue(queue, name, {"id": str(asset_id)})
    return len(jobs)


def trash_assets_with_missing_originals() -> int:
    """Move the assets whose original is gone to their owners' trash (never external library assets: the
    missing-files check does not report their originals)."""
    reports = IntegrityReport.objects.filter(type=IntegrityReport.MISSING_FILE, file_kind="original",
                                             asset__library__isnull=True).select_related("asset")
    by_owner: dict = {}
    for report in reports:
        by_owner.setdefault(report.asset.owner, []).append(report.asset_id)
    moved = 0
    for owner, asset_ids in by_owner.items():
        moved += trash.delete_assets(owner, asset_ids).trashed
    reports.delete()
    return moved


def delete_untracked_files() -> int:
    """Delete the reported untracked files, each only if it is still inside one of the media root's tracked
    trees and still untracked (a file may have been claimed since the check ran)."""
    media_root = Path(django_settings.MEDIA_ROOT).resolve()
    tracked, deleted = _tracked_paths(), 0
    for report in IntegrityReport.objects.filter(type=IntegrityReport.UNTRACKED_FILE):
        path = Path(report.path)
        inside = any(path.resolve().is_relative_to(media_root / tree) for tree in TRACKED_TREES)
        if inside and not path.is_symlink() and str(path.resolve()) not in tracked and path.is_file():
            path.unlink()
            deleted += 1
        report.delete()
    return deleted
