"""External libraries: folders on the server imported read-only for one owner (Immich's LibraryService).

A scan walks the import paths once, compares each supported file with what the database knows (path,
modification time, size) and reports new, changed, offline (removed or newly excluded) and back-online
files. Files are never written, moved or deleted on disk; the assets to process (metadata, then
thumbnails) are returned for the caller — the library job — to queue."""

import itertools
import logging
import operator
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from ..formats import TYPE_BY_EXTENSION, asset_type_for
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

# Patterns by what they need to see, so that the common ones cost one short match on a name, not a match of
# every pattern against every absolute path: "**/NAME" (a file name anywhere) and "**/NAME/**" (anything under
# a folder of that name; checked once per folder, since what lies under a skipped folder is never visited).
# Character classes may match "/" once negated, so patterns with them are matched on the whole path.
_NAME_ONLY = re.compile(r"(?:\*\*/)?([^/\[\]]+)")
_FOLDER_NAME = re.compile(r"\*\*/([^/\[\]]+)/\*\*")


@dataclass(frozen=True)
class Exclusions:
    file_name: re.Pattern  # over "/"-separated names of a folder's files: each supported, non-excluded one
    folder_name: re.Pattern | None  # on a folder's name (and on each part of an import path)
    whole_path: re.Pattern | None  # on the absolute path (a folder's with a trailing "/")

    @classmethod
    def of(cls, patterns: list[str]) -> "Exclusions":
        names, folders, others = [], [], []
        for pattern in patterns:
            if folder := _FOLDER_NAME.fullmatch(pattern):
                folders.append(folder.group(1))
            elif (name := _NAME_ONLY.fullmatch(pattern)) and "**" not in name.group(1) and (
                    "/" not in pattern or pattern.startswith("**/")):
                names.append(name.group(1))
            else:
                others.append(compile_pattern(pattern).pattern)

        def name_regex(globs):
            # compile_pattern("**/g") is "^(?:.*/)?<g>$": keep <g>, which never matches a "/".
            return "|".join(compile_pattern("**/" + glob).pattern[len("^(?:.*/)?"):-1] for glob in globs)

        excluded = name_regex(names + folders)
        suffixes = "|".join(re.escape(suffix[1:]) for suffix in TYPE_BY_EXTENSION)
        # One pass of the regex engine over a whole folder's names (a name never holds a "/"): a name with
        # something before its last dot, a supported suffix in any case, and no exclusion.
        file_name = (f"/(?!(?:{excluded})/)" if excluded else "/") + f"([^/]+\\.(?i:{suffixes}))(?=/)"
        return cls(file_name=re.compile(file_name),
                   folder_name=re.compile(f"(?:{name_regex(folders)})$") if folders else None,
                   whole_path=re.compile("|".join(others)) if others else None)

    def excludes_import_path(self, path: str) -> bool:
        """An import path inside an excluded folder: nothing under it is imported."""
        return self.folder_name is not None and any(self.folder_name.match(part) for part in path.split("/") if part)


@dataclass
class ScanResult:
    new: int = 0
    changed: int = 0
    offline: int = 0
    online: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    # Assets whose metadata and thumbnails must be (re)made: new, changed, or back with a changed file
    # (unless the scan was given a `process` callback, which receives them batch by batch instead).
    to_process: list = field(default_factory=list)


_SIZE, _MTIME_NS = operator.attrgetter("st_size"), operator.attrgetter("st_mtime_ns")


def _stat_or_none(path: str, errors: list[str]):
    try:
        return os.stat(path)
    except OSError as error:
        errors.append(f"Cannot read “{path}”: {error.strerror}.")
        return None


def walk(import_paths: list[str], patterns: list[str], errors: list[str]):
    """Yield, folder by folder, the list of (path, size, mtime_ns) of its supported, non-excluded files.

    Per file, only what a bare scandir + stat walk does: names are filtered and files stated a folder at a
    time, in C loops (regex, map, zip)."""
    exclusions = Exclusions.of(patterns)
    file_names, folder_name, whole_path = exclusions.file_name.findall, exclusions.folder_name, exclusions.whole_path
    for root in import_paths:
        problem = import_path_error(root)
        if problem:
            errors.append(problem)
            continue
        if exclusions.excludes_import_path(root):
            continue
        stack = [root]
        while stack:
            folder = stack.pop()
            names = []
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                if not ((folder_name and folder_name.match(entry.name))
                                        or (whole_path and whole_path.match(entry.path + "/"))):
                                    stack.append(entry.path)
                            elif entry.is_file():
                                names.append(entry.name)
                        except OSError as error:
                            errors.append(f"Cannot read “{entry.path}”: {error.strerror}.")
            except OSError as error:
                errors.append(f"Cannot read “{folder}”: {error.strerror}.")
                continue
            paths = [folder + "/" + name for name in file_names("/" + "/".join(names) + "/")]
            if whole_path:
                paths = [path for path in paths if not whole_path.match(path)]
            try:
                stats = list(map(os.stat, paths))
            except OSError:  # one went away or cannot be read: take them one by one
                stats = [_stat_or_none(path, errors) for path in paths]
                paths = [path for path, stat in zip(paths, stats, strict=True) if stat]
                stats = list(filter(None, stats))
            files = list(zip(paths, map(_SIZE, stats), map(_MTIME_NS, stats), strict=True))
            if files:
                yield files


def _mtime(stat) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, tz=UTC)


def file_facts(stat) -> dict:
    """The asset fields a library file's stat decides."""
    return {"file_size": stat.st_size, "file_modified_at": _mtime(stat), "file_mtime_ns": stat.st_mtime_ns}


def _same_within_a_microsecond(stored: tuple, found: tuple) -> bool:
    """Rows from before file_mtime_ns hold file_modified_at's time, which was rounded to the microsecond."""
    _path, size, mtime_ns = stored
    return (size == found[1] and mtime_ns is not None and mtime_ns % 1000 == 0
            and abs(mtime_ns // 1000 - found[2] // 1000) <= 1)


def _known_files(assets) -> dict[str, tuple[str, int, int | None]]:
    """{path: (path, size, mtime_ns)} of every file of the library, from one query over a covering index,
    keeping the plain rows the database driver returns."""
    sql, params = assets.values_list("original_path", "file_size", "file_mtime_ns").query.sql_with_params()
    known = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BULK_SIZE * 10):
            known.update(zip(map(_PATH, rows), rows, strict=True))
    return known


_PATH = operator.itemgetter(0)


class _Scan:
    """One scan of one library. A folder's files, as (path, size, mtime_ns) tuples, are compared with the
    stored rows in one list comparison, so an unchanged folder costs no Python step per file; new files are
    created in batches as the walk goes, so a first import streams: it never holds every path."""

    def __init__(self, library: Library, force: bool, process):
        self.library, self.force, self.process = library, force, process
        self.result = ScanResult()
        self.assets = Asset.objects.filter(library=library).order_by()
        # Each file found is taken out of `known`: what is left at the end is gone (or now excluded).
        self.known = _known_files(self.assets)
        self.offline = set(self.assets.filter(is_offline=True).values_list("original_path", flat=True))
        self.new_paths: list[str] = []
        self.changed_paths: list[str] = []

    def run(self) -> ScanResult:
        known, result = self.known, self.result
        for files in walk(self.library.import_paths, self.library.exclusion_patterns, result.errors):
            stored = list(map(known.pop, map(_PATH, files), itertools.repeat(None)))
            if stored == files and not self.force:
                result.unchanged += len(files)
                continue
            for file, record in zip(files, stored, strict=True):
                if record is None:
                    self.new_paths.append(file[0])
                elif not self.force and (record == file or _same_within_a_microsecond(record, file)):
                    result.unchanged += 1
                else:
                    self.changed_paths.append(file[0])
            if len(self.new_paths) >= BULK_SIZE:
                self.create_new()
        self.create_new()
        self.update_changed()
        found_offline = [path for path in self.offline if path not in known]
        gone = [path for path in known if path not in self.offline]
        result.offline = self._set_offline(gone, True)
        result.online = self._set_offline(found_offline, False)
        return result

    def create_new(self) -> None:
        new_assets = [asset for asset in (_new_asset(self.library, path, self.result.errors)
                                          for path in self.new_paths) if asset is not None]
        self.new_paths = []
        if new_assets:
            with transaction.atomic():
                Asset.objects.bulk_create(new_assets, batch_size=BULK_SIZE)
            self.result.new += len(new_assets)
            self.process([asset.id for asset in new_assets])

    def update_changed(self) -> None:
        changed_ids = []
        for path in self.changed_paths:
            try:
                stat = os.stat(path)
                checksum = sha1_of(path)
            except OSError as error:
                self.result.errors.append(f"Cannot read “{path}”: {error.strerror}.")
                continue
            asset_id = self.assets.filter(original_path=path).values_list("id", flat=True).first()
            Asset.objects.filter(pk=asset_id).update(**file_facts(stat), checksum=checksum, is_offline=False,
                                                     metadata_extracted_at=None)
            changed_ids.append(asset_id)
        self.result.changed += len(changed_ids)
        if changed_ids:
            self.process(changed_ids)

    def _set_offline(self, paths: list[str], offline: bool) -> int:
        return sum(self.assets.filter(original_path__in=paths[start:start + BULK_SIZE]).update(is_offline=offline)
                   for start in range(0, len(paths), BULK_SIZE))


def scan_library(library_id, *, force: bool = False, process=None) -> ScanResult:
    """Scan one library. `force` treats every file as changed (re-extract everything). `process`, when
    given, receives the ids of assets to process in batches as the scan goes, so that a first import of a
    large library never holds them all."""
    library = Library.objects.get(pk=library_id)
    collected = []
    result = _Scan(library, force, process or collected.extend).run()
    result.to_process = collected
    Library.objects.filter(pk=library.pk).update(
        last_scanned_at=timezone.now(), last_scan_new=result.new, last_scan_changed=result.changed,
        last_scan_offline=result.offline, last_scan_online=result.online, last_scan_errors=result.errors)
    return result


def _new_asset(library: Library, path: str, errors: list[str]) -> Asset | None:
    try:
        stat = os.stat(path)
        checksum = sha1_of(path)
    except OSError as error:
        errors.append(f"Cannot read “{path}”: {error.strerror}.")
        return None
    facts = file_facts(stat)
    created = min(facts["file_modified_at"], datetime.fromtimestamp(stat.st_ctime, tz=UTC))
    return Asset(owner_id=library.owner_id, library=library, type=asset_type_for(path), original_path=path,
                 original_filename=os.path.basename(path), checksum=checksum, file_created_at=created, **facts)


def library_ids_to_scan() -> list:
    """Every library, for the External library cron and "scan all"."""
    return list(Library.objects.values_list("id", flat=True))
