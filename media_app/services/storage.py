"""The storage template applied to originals (Immich's StorageTemplateService and StorageCore.moveFile):
where an asset's original belongs, the crash-safe move that puts it there, and the migration over every
uploaded asset with its report. External-library files are never moved; thumbnails and encoded files are
not originals and stay where they are."""

import errno
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings as django_settings
from django.utils import timezone

from jobs_app.queues import QUEUES_BY_NAME
from jobs_app.services import enqueue_stream
from settings_app.services import get_config

from ..formats import extension
from ..models import Asset, AssetType, MoveHistory, StorageMigrationReport
from ..storage_template import SAMPLE_ALBUM_DATES, SAMPLE_DATE, SAMPLE_VALUES, TemplateError, render, uses_album_tokens
from .files import sha1_of

log = logging.getLogger(__name__)

# Immich's extension normalisation: lower case, then one spelling per format.
EXTENSION_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "tif": "tiff", "3gpp": "3gp", "mpeg": "mpg", "mpe": "mpg",
                     "m2ts": "mts", "m2t": "mts"}
# Immich's hint: Windows (and so SMB clients) refuse longer paths.
PATH_LENGTH_LIMIT = 260
STORAGE_QUEUE = QUEUES_BY_NAME["storageTemplateMigration"]
# The report keeps this many skipped assets with their reasons (the count is always complete).
REPORT_SKIPPED_LIMIT = 1000
DRY_RUN_SAMPLE = 20


class PlacementRefused(Exception):
    """The asset stays where it is; the message says why."""


@dataclass(frozen=True)
class AlbumFacts:
    name: str
    start_date: datetime | None = None
    end_date: datetime | None = None


def asset_albums(asset) -> list[AlbumFacts]:
    """The asset's albums, most recently created first, for the album tokens."""
    from albums_app.services.albums import albums_of_asset  # albums build on media_app: imported when used

    return [AlbumFacts(album.name, album.start_date, album.end_date) for album in albums_of_asset(asset)]


def queue_placement_for_album_change(asset_ids) -> int:
    """Queue StorageTemplateMigrationSingle for uploads whose album changed (added, removed, album renamed or
    deleted), only when the template is on and uses an album token: otherwise their path cannot change."""
    template = get_config().storageTemplate
    if not template.enabled or not uses_album_tokens(template.template):
        return 0
    ids = Asset.objects.filter(pk__in=list(asset_ids), library__isnull=True).values_list("pk", flat=True)
    return enqueue_stream(STORAGE_QUEUE.name, STORAGE_QUEUE.item_job, ({"id": str(pk)} for pk in ids.iterator()))


def library_root() -> Path:
    return Path(django_settings.MEDIA_ROOT) / "library"


def user_root(owner) -> Path:
    """<media>/library/<storage label or user id>."""
    return library_root() / (owner.storage_label or str(owner.pk))


def normalised_extension(filename: str) -> str:
    ext = extension(filename).lstrip(".").lower()
    return EXTENSION_ALIASES.get(ext, ext)


def _local(value: datetime) -> datetime:
    """An instant as the server's wall-clock time (naive), which the date tokens format."""
    return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value


def render_context(asset, with_albums: bool = True) -> tuple[datetime, dict, dict]:
    """(date, values, album dates) of one asset, in the shape storage_template.render takes. Without
    `with_albums` (a template with no album token) the albums are not looked up."""
    date = asset.taken_at or asset.file_created_at or asset.created_at
    albums = asset_albums(asset) if with_albums else []
    album = albums[0] if albums else None
    is_video = asset.type == AssetType.VIDEO
    values = {
        "filename": Path(asset.original_filename).stem, "ext": normalised_extension(asset.original_filename),
        "filetype": "VID" if is_video else "IMG", "filetypefull": "VIDEO" if is_video else "IMAGE",
        "assetId": str(asset.id), "assetIdShort": str(asset.id)[-12:],
        "album": album.name.replace(".", "") if album else "",
        "make": asset.make, "model": asset.model, "lensModel": asset.lens_model,
    }
    album_dates = {"startDate": _local(album.start_date) if album and album.start_date else None,
                   "endDate": _local(album.end_date) if album and album.end_date else None}
    return _local(date), values, album_dates


def is_inside(folder: Path, path: Path) -> bool:
    """Whether `path` is `folder` or below it, compared by whole names (a sibling `admin2` of `admin` is
    outside, which a string prefix test would miss)."""
    folder, path = os.path.normpath(folder), os.path.normpath(path)
    return os.path.commonpath([folder, path]) == folder


def planned_path(asset, template: str) -> Path:
    """Where the template puts the asset's original, before clash numbering. PlacementRefused if the
    template cannot place it."""
    if asset.library_id is not None:
        raise PlacementRefused("external-library files are never moved")
    date, values, album_dates = render_context(asset, with_albums=uses_album_tokens(template))
    try:
        relative = render(template, date, values, album_dates)
    except TemplateError as error:
        raise PlacementRefused(f"storage template: {error}") from error
    root = user_root(asset.owner)
    ext = normalised_extension(asset.original_filename)
    path = root / (f"{relative}.{ext}" if ext else relative)
    if not is_inside(root, path) or path == root:
        raise PlacementRefused(f"“{path}” is outside the user's folder {root}")
    return path


def _numbered(path: Path, number: int) -> Path:
    return path.with_name(f"{path.stem}+{number}{path.suffix}") if number else path


def is_in_place(current: Path, planned: Path) -> bool:
    """The original is at the planned path or at one of its +N clash names (so re-runs do not move an asset
    between +N names)."""
    if current == planned:
        return True
    pattern = re.escape(planned.stem) + r"\+\d+" + re.escape(planned.suffix)
    return current.parent == planned.parent and re.fullmatch(pattern, current.name) is not None


def _taken(path: Path) -> bool:
    """A file is there, or a pending move claims the name. (The file system decides: an asset whose file is
    missing is skipped by the migration, so its recorded path need not be looked up in every row.)"""
    return os.path.lexists(path) or MoveHistory.objects.filter(new_path=str(path)).exists()


def destination(asset, template: str) -> Path | None:
    """The free path the original moves to, or None when it is already in place."""
    planned = planned_path(asset, template)
    if is_in_place(Path(asset.original_path), planned):
        return None
    number = 0
    while _taken(_numbered(planned, number)):
        number += 1
    return _numbered(planned, number)


@dataclass
class Preview:
    path: str = ""
    error: str = ""

    @property
    def length(self) -> int:
        return len(self.path)

    @property
    def too_long(self) -> bool:
        return self.length > PATH_LENGTH_LIMIT


def preview(template: str, owner) -> Preview:
    """The full path the template gives Immich's sample photo in `owner`'s folder, or the error, with the
    same rendering and checks as a move."""
    root = user_root(owner)
    try:
        relative = render(template, SAMPLE_DATE, SAMPLE_VALUES, SAMPLE_ALBUM_DATES)
    except TemplateError as error:
        return Preview(error=str(error))
    path = root / f"{relative}.{SAMPLE_VALUES['ext']}"
    if not is_inside(root, path):
        return Preview(error=f"renders to “{path}”, outside the user's folder {root}")
    return Preview(path=str(path))


# --- The crash-safe move -------------------------------------------------------------------------------


class MoveFailed(Exception):
    pass


def _verify(asset, path: Path, verify_hash: bool) -> str:
    """Why the file at `path` is not the asset's original, or "" when it is."""
    size = path.stat().st_size
    if size != asset.file_size:
        return f"size {size} bytes instead of {asset.file_size}"
    if verify_hash and sha1_of(path) != asset.checksum:
        return "SHA1 differs from the asset's checksum"
    return ""


def _point_at(asset, new: Path) -> None:
    """The database follows the file; the move row stays until the old file is gone."""
    Asset.objects.filter(pk=asset.pk).update(original_path=str(new), storage_error="")
    asset.original_path, asset.storage_error = str(new), ""


def _finish(asset, move: MoveHistory) -> None:
    old = Path(move.old_path)
    if old != Path(move.new_path):
        try:
            old.unlink(missing_ok=True)
        except OSError as error:  # the asset is at its new place; the old copy is no longer tracked
            log.warning("asset %s: could not remove the old copy %s (%s); it is no longer tracked", asset.pk,
                        old, error)
    move.delete()


def move_original(asset, new: Path, *, verify_hash: bool) -> None:
    """Move the asset's original to `new` (Immich's moveFile): the move row first, then rename, or on
    another device copy, verify (size, and SHA1 when asked) and only then point the database at the copy
    and remove the old file. MoveFailed (nothing changed) when the move cannot be done."""
    old = Path(asset.original_path)
    move = MoveHistory.objects.create(asset=asset, old_path=str(old), new_path=str(new))
    try:
        new.parent.mkdir(parents=True, exist_ok=True)
        os.rename(old, new)
    except OSError as error:
        if error.errno != errno.EXDEV:
            move.delete()
            raise MoveFailed(f"cannot move {old} to {new}: {error.strerror or error}") from error
        _copy_across_devices(asset, old, new, move, verify_hash)
    _point_at(asset, new)
    _finish(asset, move)


def _copy_across_devices(asset, old: Path, new: Path, move: MoveHistory, verify_hash: bool) -> None:
    try:
        shutil.copy2(old, new)
        problem = _verify(asset, new, verify_hash)
    except OSError as error:
        problem = f"copy failed: {error.strerror or error}"
    if problem:
        new.unlink(missing_ok=True)
        move.delete()
        raise MoveFailed(f"the copy of {old} at {new} is not the original ({problem}); the original stays")


def recover_move(move: MoveHistory, *, verify_hash: bool) -> str:
    """Complete or roll back a move a crash interrupted; what was done. The database ends pointing at an
    existing copy of the original whenever one exists."""
    asset = move.asset
    old, new = Path(move.old_path), Path(move.new_path)
    if asset.original_path == str(new):  # the database already follows the file: only the old copy is left
        _finish(asset, move)
        return "completed"
    if new.exists() and not old.exists():  # renamed, the database not updated yet
        problem = _verify(asset, new, verify_hash)
        if problem:
            move.delete()
            Asset.objects.filter(pk=asset.pk).update(storage_error=f"interrupted move: {new} {problem}")
            log.error("asset %s: interrupted move left %s, which is not the original (%s)", asset.pk, new, problem)
            return "failed"
        _point_at(asset, new)
        _finish(asset, move)
        return "completed"
    if old.exists():  # not moved, or a copy to another device not finished: the original stays
        if new.exists() and not os.path.samefile(old, new):
            new.unlink()
        move.delete()
        return "rolled back"
    move.delete()
    Asset.objects.filter(pk=asset.pk).update(storage_error=f"original missing at {old} and at {new}")
    log.error("asset %s: interrupted move, original missing at %s and at %s", asset.pk, old, new)
    return "failed"


def recover_interrupted_moves(*, verify_hash: bool) -> int:
    moves = list(MoveHistory.objects.select_related("asset"))
    for move in moves:
        log.info("asset %s: interrupted move %s -> %s %s", move.asset_id, move.old_path, move.new_path,
                 recover_move(move, verify_hash=verify_hash))
    return len(moves)


# --- Placing one asset, and the migration ----------------------------------------------------------------

MOVED, IN_PLACE, SKIPPED = "moved", "in place", "skipped"


@dataclass
class Placement:
    outcome: str  # moved | in place | skipped
    path: str
    reason: str = ""


def place_asset(asset, template: str, *, verify_hash: bool) -> Placement:
    """Move one asset's original to where the template puts it. A refusal leaves it where it is, with the
    reason on the asset (shown on its page) and in the log."""
    for move in MoveHistory.objects.filter(asset=asset):
        recover_move(move, verify_hash=verify_hash)
        asset.refresh_from_db()
    if asset.library_id is not None:
        return Placement(SKIPPED, asset.original_path, "external-library files are never moved")
    try:
        if not os.path.exists(asset.original_path):
            raise PlacementRefused(f"the original is missing at {asset.original_path}")
        new = destination(asset, template)
        if new is None:
            if asset.storage_error:
                Asset.objects.filter(pk=asset.pk).update(storage_error="")
            return Placement(IN_PLACE, asset.original_path)
        move_original(asset, new, verify_hash=verify_hash)
    except (PlacementRefused, MoveFailed) as error:
        reason = str(error)
        log.warning("asset %s stays at %s: %s", asset.pk, asset.original_path, reason)
        Asset.objects.filter(pk=asset.pk).update(storage_error=reason)
        return Placement(SKIPPED, asset.original_path, reason)
    return Placement(MOVED, str(new))


def place_asset_by_id(asset_id) -> Placement | None:
    """StorageTemplateMigrationSingle: None when the template is disabled (files stay where they are)."""
    config = get_config().storageTemplate
    if not config.enabled:
        return None
    asset = Asset.objects.select_related("owner").get(pk=asset_id)
    return place_asset(asset, config.template, verify_hash=config.hashVerificationEnabled)


def remove_empty_folders(*roots: Path) -> int:
    """Remove empty folders below each root (deepest first), keeping the roots; how many went."""
    removed = 0
    for root in roots:
        if not root.is_dir():
            continue
        for folder, _, _ in sorted(os.walk(root), key=lambda entry: entry[0].count(os.sep), reverse=True):
            if folder != str(root):
                try:
                    os.rmdir(folder)
                    removed += 1
                except OSError:  # not empty (or a new upload just arrived in it)
                    continue
    return removed


def migrate_all() -> StorageMigrationReport | None:
    """StorageTemplateMigration: every uploaded asset, archived and trashed included, to where the template
    puts it; interrupted moves first, empty folders last. None when the template is disabled."""
    config = get_config().storageTemplate
    if not config.enabled:
        return None
    report = StorageMigrationReport.objects.create(template=config.template)
    report.recovered = recover_interrupted_moves(verify_hash=config.hashVerificationEnabled)
    assets = Asset.objects.filter(library__isnull=True).select_related("owner").order_by("pk")
    for asset in assets.iterator(chunk_size=500):
        placement = place_asset(asset, config.template, verify_hash=config.hashVerificationEnabled)
        if placement.outcome == MOVED:
            report.moved += 1
        elif placement.outcome == IN_PLACE:
            report.in_place += 1
        else:
            report.skipped_count += 1
            if len(report.skipped) < REPORT_SKIPPED_LIMIT:
                report.skipped.append({"asset": str(asset.pk), "path": placement.path, "reason": placement.reason})
    media = Path(django_settings.MEDIA_ROOT)
    report.removed_folders = remove_empty_folders(library_root(), *(media / "upload").glob("*/"))
    report.finished_at = timezone.now()
    report.save()
    return report


@dataclass
class DryRun:
    would_move: int = 0
    in_place: int = 0
    skipped: int = 0
    sample: list = field(default_factory=list)  # [(old, new or reason, is_move)]


def dry_run(template: str) -> DryRun:
    """How many uploaded assets a migration with `template` would move, with a sample of old -> new paths
    and of refusals; nothing is touched. Clash numbering is not predicted (the sample shows the path before
    any +N)."""
    result = DryRun()
    for asset in Asset.objects.filter(library__isnull=True).select_related("owner").order_by("pk").iterator():
        try:
            planned = planned_path(asset, template)
        except PlacementRefused as error:
            result.skipped += 1
            if len(result.sample) < DRY_RUN_SAMPLE:
                result.sample.append((asset.original_path, str(error), False))
            continue
        if is_in_place(Path(asset.original_path), planned):
            result.in_place += 1
        else:
            result.would_move += 1
            if len(result.sample) < DRY_RUN_SAMPLE:
                result.sample.append((asset.original_path, str(planned), True))
    return result
