"""External libraries: folders on the server imported read-only for one owner (Immich's LibraryService).

A scan walks the import paths once, compares each supported file with what the database knows (path,
modification time, size) and reports new, changed, offline (removed or newly excluded) and back-online
files. Files are never written, moved or deleted on disk; the assets to process (metadata, then
thumbnails) are returned for the caller — the library job — to queue."""

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from ..formats import asset_type_for
from ..models import Asset, Library
from .files import sha1_of

log = logging.getLogger(__name__)

BULK_SIZE = 1000


class LibraryInputError(Exception):
    """Invalid library fields: {field: [messages]}. Nothing was saved."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))


# --- Exclusion patterns --------------------------------------------------------------------------------


@cache
def compile_pattern(pattern: str) -> re.Pattern:
    """Glob -> regex over absolute paths: `**` spans folders, `*` and `?` stay within one name, `[...]` is a
    character class. A pattern without "/" matches the file or folder name anywhere (like `*.tmp`)."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("(?:/.*)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 2:]:
            end = pattern.index("]", index + 2)
            body = pattern[index + 1:end].replace("\\", "\\\\")
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + ("\\" + body if body.startswith("^") else body) + "]")
            index = end + 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("^" + "".join(out) + "$")


def is_excluded(path: str, patterns: list[str]) -> bool:
    return any(compile_pattern(pattern).match(path) for pattern in patterns)


# --- Validation and saving -----------------------------------------------------------------------------


def import_path_error(path: str) -> str | None:
    """Why an import path cannot be used, or None. Checked on save, as Immich's validate endpoint does."""
    if not path or not os.path.isabs(path):
        return f"“{path}” is not an absolute path."
    if not os.path.exists(path):
        return f"“{path}” does not exist."
    if not os.path.isdir(path):
        return f"“{path}” is not a folder."
    if not os.access(path, os.R_OK | os.X_OK):
        return f"“{path}” is not readable by the server."
    media_root = os.path.realpath(django_settings.MEDIA_ROOT)
    real = os.path.realpath(path)
    if real == media_root or real.startswith(media_root + os.sep) or media_root.startswith(real + os.sep):
        return f"“{path}” overlaps the server's own media folder."
    return None


def _clean_list(values) -> list[str]:
    seen, cleaned = set(), []
    for value in values or []:
        value = str(value).strip()
        if value and value not in seen:
            seen.add(value)
            cleaned.append(value)
    return cleaned


def library_input_errors(*, name: str | None = None, import_paths=None, exclusion_patterns=None) -> dict:
    """What is wrong with a library's name, import paths and exclusion patterns ({field: [message]}; the
    ones given as None are not checked), so that a form can show every problem at once."""
    errors: dict[str, list[str]] = {}
    if name is not None and not name.strip():
        errors["name"] = ["The name cannot be empty."]
    if import_paths is not None:
        paths = [os.path.normpath(path) for path in _clean_list(import_paths)]
        if messages := [message for message in map(import_path_error, paths) if message]:
            errors["import_paths"] = messages
    if exclusion_patterns is not None:
        messages = []
        for pattern in _clean_list(exclusion_patterns):
            try:
                compile_pattern(pattern)
            except re.error as error:
                messages.append(f"“{pattern}” is not a valid pattern ({error}).")
        if messages:
            errors["exclusion_patterns"] = messages
    return errors


def save_library(library: Library | None = None, *, owner=None, name: str | None = None,
                 import_paths=None, exclusion_patterns=None) -> Library:
    """Create (library=None, owner required) or update a library. Every import path must exist and be
    readable; LibraryInputError lists every problem and nothing is saved."""
    library = library or Library(owner=owner)
    errors = library_input_errors(name=name, import_paths=import_paths, exclusion_patterns=exclusion_patterns)
    if library.owner_id is None:
        errors = {"owner": ["An owner is required."], **errors}
    if errors:
        raise LibraryInputError(errors)
    if name is not None:
        name = name.strip()
    if import_paths is not None:
        import_paths = [os.path.normpath(path) for path in _clean_list(import_paths)]
    if exclusion_patterns is not None:
        exclusion_patterns = _clean_list(exclusion_patterns)
    if name is not None:
        library.name = name
    elif not library.name:
        library.name = "New External Library"
    if import_paths is not None:
        library.import_paths = import_paths
    if exclusion_patterns is not None:
        library.exclusion_patterns = exclusion_patterns
    library.save()
    return library


# --- Scanning --------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    new: int = 0
    changed: int = 0
    offline: int = 0
    online: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    # Assets whose metadata and thumbnails must be (re)made: new, changed, or back with a changed file.
    to_process: list = field(default_factory=list)


def walk(import_paths: list[str], patterns: list[str], errors: list[str]):
    """Yield (path, stat) for every supported, non-excluded file under the import paths."""
    for root in import_paths:
        problem = import_path_error(root)
        if problem:
            errors.append(problem)
            continue
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as error:
                errors.append(f"Cannot read “{folder}”: {error.strerror}.")
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not is_excluded(entry.path + "/", patterns):
                            stack.append(entry.path)
                    elif entry.is_file() and asset_type_for(entry.name) and not is_excluded(entry.path, patterns):
                        yield entry.path, entry.stat()
                except OSError as error:
                    errors.append(f"Cannot read “{entry.path}”: {error.strerror}.")


def _mtime(stat) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, tz=UTC)


def scan_library(library_id, *, force: bool = False) -> ScanResult:
    """Scan one library. `force` treats every file as changed (re-extract everything)."""
    library = Library.objects.get(pk=library_id)
    result = ScanResult()
    known = {
        path: (asset_id, modified, size, offline)
        for asset_id, path, modified, size, offline in Asset.objects.filter(library=library).values_list(
            "id", "original_path", "file_modified_at", "file_size", "is_offline").iterator(chunk_size=BULK_SIZE)
    }
    seen: set[str] = set()
    new_assets: list[Asset] = []
    changed_ids, online_ids = [], []
    for path, stat in walk(library.import_paths, library.exclusion_patterns, result.errors):
        seen.add(path)
        record = known.get(path)
        if record is None:
            asset = _new_asset(library, path, stat, result.errors)
            if asset is not None:
                new_assets.append(asset)
            if len(new_assets) >= BULK_SIZE:
                _create(new_assets, result)
                new_assets = []
            continue
        asset_id, modified, size, offline = record
        is_changed = force or size != stat.st_size or modified != _mtime(stat)
        if offline:
            online_ids.append(asset_id)
        if is_changed:
            changed_ids.append((asset_id, path, stat))
        else:
            result.unchanged += 1
    _create(new_assets, result)

    for asset_id, path, stat in changed_ids:
        try:
            checksum = sha1_of(path)
        except OSError as error:
            result.errors.append(f"Cannot read “{path}”: {error.strerror}.")
            continue
        Asset.objects.filter(pk=asset_id).update(
            file_size=stat.st_size, file_modified_at=_mtime(stat), checksum=checksum, is_offline=False,
            metadata_extracted_at=None)
        result.changed += 1
        result.to_process.append(asset_id)
    for start in range(0, len(online_ids), BULK_SIZE):
        result.online += Asset.objects.filter(pk__in=online_ids[start:start + BULK_SIZE]).update(is_offline=False)

    gone = [record[0] for path, record in known.items() if path not in seen and not record[3]]
    for start in range(0, len(gone), BULK_SIZE):
        result.offline += Asset.objects.filter(pk__in=gone[start:start + BULK_SIZE]).update(is_offline=True)

    Library.objects.filter(pk=library.pk).update(
        last_scanned_at=timezone.now(), last_scan_new=result.new, last_scan_changed=result.changed,
        last_scan_offline=result.offline, last_scan_online=result.online, last_scan_errors=result.errors)
    return result


def _new_asset(library: Library, path: str, stat, errors: list[str]) -> Asset | None:
    try:
        checksum = sha1_of(path)
    except OSError as error:
        errors.append(f"Cannot read “{path}”: {error.strerror}.")
        return None
    modified = _mtime(stat)
    created = min(modified, datetime.fromtimestamp(stat.st_ctime, tz=UTC))
    return Asset(owner_id=library.owner_id, library=library, type=asset_type_for(path), original_path=path,
                 original_filename=Path(path).name, checksum=checksum, file_size=stat.st_size,
                 file_modified_at=modified, file_created_at=created)


def _create(assets: list[Asset], result: ScanResult) -> None:
    if not assets:
        return
    with transaction.atomic():
        Asset.objects.bulk_create(assets, batch_size=BULK_SIZE)
    result.new += len(assets)
    result.to_process.extend(asset.id for asset in assets)


def library_ids_to_scan() -> list:
    """Every library, for the External library cron and "scan all"."""
    return list(Library.objects.values_list("id", flat=True))
