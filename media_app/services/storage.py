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
from itertools import islice
from pathlib import Path

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Q
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
# Assets placed per database round trip (the migration's speed); a crash redoes or rolls back at most one batch.
BULK_SIZE = 200


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


# --- What moves where: an asset's original and its companions ------------------------------------------

ORIGINAL, SIDECAR = "original", "sidecar"  # MoveHistory.path_type
PATH_FIELDS = {ORIGINAL: "original_path", SIDECAR: "sidecar_path"}
SIDECAR_SUFFIX = ".xmp"


@dataclass
class FileMove:
    """One file of an asset (its original or its sidecar) going from `old` to `new`."""

    asset: Asset
    path_type: str
    old: Path
    new: Path
    unit: object  # the id of the still the file travels with
    record: MoveHistory | None = None
    copied: bool = False  # crossed devices: the old file goes once the database follows the copy


def _without_suffix(path: Path) -> str:
    return str(path)[: len(str(path)) - len(path.suffix)]


def _unit_files(still, target: Path) -> list[tuple[Asset, str, Path, Path]]:
    """(asset, path type, current path, path beside `target`) of every file that travels with the still:
    its original at `target`, its sidecar at `<target>.xmp`, and for a live photo the motion video with the
    still's name and its own extension (Immich's getLivePhotoMotionFilename), with the video's sidecar."""
    files = [(still, ORIGINAL, Path(still.original_path), target)]
    video = still.live_photo_video
    if video is not None and video.library_id is None:
        ext = normalised_extension(video.original_filename)
        video_target = Path(f"{_without_suffix(target)}.{ext}" if ext else _without_suffix(target))
        files.append((video, ORIGINAL, Path(video.original_path), video_target))
    for asset, _, _, new in list(files):
        if asset.sidecar_path:
            files.append((asset, SIDECAR, Path(asset.sidecar_path), Path(f"{new}{SIDECAR_SUFFIX}")))
    return files


def plan_moves(still, template: str, claimed: set[str]) -> list[FileMove]:
    """The moves that put the asset's original and its companions where the template says ([] when all are
    in place). A clash number is chosen so that every file of the unit has a free name; names in `claimed`
    (planned by earlier moves of the same batch) are taken, and the chosen ones are added to it.
    PlacementRefused when the original cannot be placed."""
    planned = planned_path(still, template)
    current = Path(still.original_path)
    files = _unit_files(still, current)
    own = {str(old) for _, _, old, _ in files}

    def free(path: Path) -> bool:
        return str(path) in own or (str(path) not in claimed and not os.path.lexists(path))

    if not is_in_place(current, planned):
        number = 0
        files = _unit_files(still, planned)
        while not all(free(new) for *_, new in files):
            number += 1
            files = _unit_files(still, _numbered(planned, number))
    moves = []
    for asset, path_type, old, new in files:
        if old == new:
            continue
        if not free(new):  # the still stays in place and another file holds its companion's name
            log.warning("asset %s: its %s stays at %s, %s is taken", asset.pk, path_type, old, new)
            continue
        claimed.add(str(new))
        moves.append(FileMove(asset, path_type, old, new, still.pk))
    return moves


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


def _verify(asset, path_type: str, path: Path, verify_hash: bool, expected_size: int | None = None) -> str:
    """Why the file at `path` is not the asset's file of that type, or "" when it is. An original is checked
    against the asset's size (and SHA1 when asked); a sidecar, which has no recorded facts, against
    `expected_size` when known."""
    size = path.stat().st_size
    if path_type == ORIGINAL:
        expected_size = asset.file_size
    if expected_size is not None and size != expected_size:
        return f"size {size} bytes instead of {expected_size}"
    if path_type == ORIGINAL and verify_hash and sha1_of(path) != asset.checksum:
        return "SHA1 differs from the asset's checksum"
    return ""


def _move_file(move: FileMove, verify_hash: bool) -> None:
    """rename(), or on another device copy and verify (the old file stays until the database follows).
    MoveFailed, with nothing changed on disk, when the file cannot be moved."""
    try:
        move.new.parent.mkdir(parents=True, exist_ok=True)
        os.rename(move.old, move.new)
        return
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise MoveFailed(f"cannot move {move.old} to {move.new}: {error.strerror or error}") from error
    try:
        shutil.copy2(move.old, move.new)
        problem = _verify(move.asset, move.path_type, move.new, verify_hash, move.old.stat().st_size)
    except OSError as error:
        problem = f"copy failed: {error.strerror or error}"
    if problem:
        move.new.unlink(missing_ok=True)
        raise MoveFailed(f"the copy of {move.old} at {move.new} is not the original ({problem}); the original stays")
    move.copied = True


def execute_moves(moves: list[FileMove], *, verify_hash: bool) -> dict:
    """Carry out a batch of moves as Immich's moveFile does for one file, with one database transaction
    before and one after the file operations: the move rows first, then rename (or copy and verify), then
    the assets' paths and the rows of completed moves together, then the old copies of cross-device moves
    and their rows. A crash at any point leaves rows that the next run completes or rolls back.
    {asset id: [reasons]} of the files that could not be moved (they stay where they were)."""
    failures: dict = {}
    if not moves:
        return failures
    with transaction.atomic():
        records = MoveHistory.objects.bulk_create(
            [MoveHistory(asset=move.asset, path_type=move.path_type, old_path=str(move.old), new_path=str(move.new))
             for move in moves])
    done, undone_records, failed_units = [], [], set()
    for move, record in zip(moves, records, strict=True):  # a unit's original comes first
        move.record = record
        if move.unit in failed_units:  # its companions stay beside the original that could not move
            undone_records.append(record.pk)
            continue
        try:
            _move_file(move, verify_hash)
            done.append(move)
        except MoveFailed as error:
            failures.setdefault(move.asset.pk, []).append(str(error))
            undone_records.append(record.pk)
            if move.asset.pk == move.unit and move.path_type == ORIGINAL:
                failed_units.add(move.unit)
    with transaction.atomic():
        for move in done:
            setattr(move.asset, PATH_FIELDS[move.path_type], str(move.new))
        _write_paths(done)
        MoveHistory.objects.filter(
            pk__in=undone_records + [move.record.pk for move in done if not move.copied]).delete()
    copies = [move for move in done if move.copied]
    for move in copies:
        _remove_old_copy(move.asset, move.old)
    MoveHistory.objects.filter(pk__in=[move.record.pk for move in copies]).delete()
    return failures


def _write_paths(moves: list[FileMove]) -> None:
    """The new paths of the moved files in one executemany per path type: Django's bulk_update builds one
    CASE expression per row, which costs more than the renames themselves."""
    quote, pk_field = connection.ops.quote_name, Asset._meta.pk
    with connection.cursor() as cursor:
        for path_type, field_name in PATH_FIELDS.items():
            rows = [(str(move.new), pk_field.get_db_prep_value(move.asset.pk, connection))
                    for move in moves if move.path_type == path_type]
            assignments = f"{quote(field_name)} = %s" + (f", {quote('storage_error')} = ''"
                                                         if path_type == ORIGINAL else "")
            if rows:
                cursor.executemany(f"UPDATE {quote(Asset._meta.db_table)} SET {assignments} "
                                   f"WHERE {quote(pk_field.column)} = %s", rows)
    for move in moves:
        if move.path_type == ORIGINAL:
            move.asset.storage_error = ""


def _remove_old_copy(asset, old: Path) -> None:
    try:
        old.unlink(missing_ok=True)
    except OSError as error:  # the asset is at its new place; the old copy is no longer tracked
        log.warning("asset %s: could not remove the old copy %s (%s); it is no longer tracked", asset.pk, old, error)


def _point_at(asset, path_type: str, new: Path) -> None:
    """The database follows the file; the move row stays until the old file is gone."""
    field_name = PATH_FIELDS[path_type]
    Asset.objects.filter(pk=asset.pk).update(**{field_name: str(new)})
    setattr(asset, field_name, str(new))


def _finish(asset, move: MoveHistory) -> None:
    if move.old_path != move.new_path:
        _remove_old_copy(asset, Path(move.old_path))
    move.delete()


def _lost(asset, path_type: str, reason: str) -> None:
    log.error("asset %s: interrupted move of its %s: %s", asset.pk, path_type, reason)
    if path_type == ORIGINAL:
        Asset.objects.filter(pk=asset.pk).update(storage_error=f"interrupted move: {reason}")
    else:  # a sidecar that is gone is no longer the asset's
        Asset.objects.filter(pk=asset.pk).update(sidecar_path="")
        asset.sidecar_path = ""


def recover_move(move: MoveHistory, *, verify_hash: bool) -> str:
    """Complete or roll back a move a crash interrupted; what was done. The database ends pointing at an
    existing copy of the file whenever one exists."""
    asset = move.asset
    path_type = move.path_type if move.path_type in PATH_FIELDS else ORIGINAL
    old, new = Path(move.old_path), Path(move.new_path)
    if getattr(asset, PATH_FIELDS[path_type]) == str(new):  # the database follows the file: the old copy is left
        _finish(asset, move)
        return "completed"
    if new.exists() and not old.exists():  # renamed, the database not updated yet
        problem = _verify(asset, path_type, new, verify_hash)
        if problem:
            move.delete()
            _lost(asset, path_type, f"{new} {problem}")
            return "failed"
        _point_at(asset, path_type, new)
        if path_type == ORIGINAL:
            Asset.objects.filter(pk=asset.pk).update(storage_error="")
        _finish(asset, move)
        return "completed"
    if old.exists():  # not moved, or a copy to another device not finished: the file stays
        if new.exists() and not os.path.samefile(old, new):
            new.unlink()
        move.delete()
        return "rolled back"
    move.delete()
    _lost(asset, path_type, f"missing at {old} and at {new}")
    return "failed"


def recover_interrupted_moves(*, verify_hash: bool, asset_ids=None) -> int:
    """Resolve the moves a crash left (of these assets, or all); how many there were."""
    moves = MoveHistory.objects.select_related("asset").order_by("pk")
    moves = list(moves.filter(asset__in=asset_ids) if asset_ids is not None else moves)
    for move in moves:
        log.info("asset %s: interrupted move %s -> %s %s", move.asset_id, move.old_path, move.new_path,
                 recover_move(move, verify_hash=verify_hash))
    return len(moves)


# --- Placing assets, and the migration --------------------------------------------------------------------

MOVED, IN_PLACE, SKIPPED = "moved", "in place", "skipped"


@dataclass
class Placement:
    outcome: str  # moved | in place | skipped
    path: str
    reason: str = ""


# What placing reads of an asset (other fields load on access): the migration streams every asset.
PLACEMENT_FIELDS = ("id", "owner_id", "library_id", "type", "original_path", "original_filename", "sidecar_path",
                    "checksum", "file_size", "taken_at", "file_created_at", "created_at", "make", "model",
                    "lens_model", "storage_error")


def _units(assets):
    """A live photo's video travels with its still: the still's unit is placed instead."""
    return assets.filter(live_photo_still__isnull=True).select_related("owner", "live_photo_video").only(
        *PLACEMENT_FIELDS, "owner__storage_label", *(f"live_photo_video__{name}" for name in PLACEMENT_FIELDS))


def place_batch(stills: list, template: str, *, verify_hash: bool) -> list[Placement]:
    """Place each still (with its companions), the moves of the whole batch done together. A refusal leaves
    the asset where it is, with the reason on the asset (shown on its page) and in the log."""
    claimed = set(MoveHistory.objects.values_list("new_path", flat=True))
    planned, outcomes = [], {}
    for still in stills:
        try:
            if still.library_id is not None:
                raise PlacementRefused("external-library files are never moved")
            if not os.path.exists(still.original_path):
                raise PlacementRefused(f"the original is missing at {still.original_path}")
            moves = plan_moves(still, template, claimed)
        except PlacementRefused as error:
            outcomes[still.pk] = Placement(SKIPPED, still.original_path, str(error))
            continue
        planned += moves
        outcomes[still.pk] = Placement(MOVED if moves else IN_PLACE, still.original_path)
    failures = execute_moves(planned, verify_hash=verify_hash)
    errors_changed = []
    for still in stills:
        placement = outcomes[still.pk]
        video = still.live_photo_video
        reasons = failures.get(still.pk, []) + (failures.get(video.pk, []) if video else [])
        if reasons:
            placement.outcome, placement.reason = SKIPPED, "; ".join(reasons)
        placement.path = still.original_path
        if placement.outcome == SKIPPED:
            log.warning("asset %s stays at %s: %s", still.pk, still.original_path, placement.reason)
        if still.library_id is None and still.storage_error != placement.reason:
            still.storage_error = placement.reason
            errors_changed.append(still)
    Asset.objects.bulk_update(errors_changed, ["storage_error"], batch_size=BULK_SIZE)
    return [outcomes[still.pk] for still in stills]


def place_asset(asset, template: str, *, verify_hash: bool) -> Placement:
    """Move one asset's original, and its companions, to where the template puts them; a live photo's video
    is placed with its still."""
    unit = Asset.objects.filter(Q(pk=asset.pk) | Q(live_photo_video=asset.pk) | Q(live_photo_still=asset.pk))
    recover_interrupted_moves(verify_hash=verify_hash, asset_ids=list(unit.values_list("pk", flat=True)))
    still = _units(unit).first()
    return place_batch([still], template, verify_hash=verify_hash)[0]


def place_asset_by_id(asset_id) -> Placement | None:
    """StorageTemplateMigrationSingle: None when the template is disabled (files stay where they are)."""
    config = get_config().storageTemplate
    if not config.enabled:
        return None
    asset = Asset.objects.get(pk=asset_id)
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


def migrate_all(*, batch_size: int = BULK_SIZE) -> StorageMigrationReport | None:
    """StorageTemplateMigration: every uploaded asset, archived and trashed included, to where the template
    puts it, `batch_size` assets per database round trip; interrupted moves first, empty folders last. None
    when the template is disabled."""
    config = get_config().storageTemplate
    if not config.enabled:
        return None
    report = StorageMigrationReport.objects.create(template=config.template)
    report.recovered = recover_interrupted_moves(verify_hash=config.hashVerificationEnabled)
    stills = _units(Asset.objects.filter(library__isnull=True)).order_by("pk").iterator(chunk_size=batch_size)
    while batch := list(islice(stills, batch_size)):
        placements = place_batch(batch, config.template, verify_hash=config.hashVerificationEnabled)
        for still, placement in zip(batch, placements, strict=True):
            if placement.outcome == MOVED:
                report.moved += 1
            elif placement.outcome == IN_PLACE:
                report.in_place += 1
            else:
                report.skipped_count += 1
                if len(report.skipped) < REPORT_SKIPPED_LIMIT:
                    report.skipped.append({"asset": str(still.pk), "path": placement.path,
                                           "reason": placement.reason})
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
    for asset in _units(Asset.objects.filter(library__isnull=True)).order_by("pk").iterator(chunk_size=BULK_SIZE):
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
