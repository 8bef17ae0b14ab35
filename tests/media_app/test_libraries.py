"""External libraries: validation on save and scans of real folders (copies of the test photos in tmp)."""

import os
import shutil

import pytest

from media_app.models import Asset, Library
from media_app.services import libraries
from media_app.services.files import sha1_of
from media_app.services.libraries import LibraryInputError, compile_pattern, is_excluded, save_library, scan_library

from .conftest import PHOTOS, VIDEOS

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "nas" / "photos"
    (root / "2019").mkdir(parents=True)
    (root / "@eaDir").mkdir()
    shutil.copy(PHOTOS / "IMG_2682.heic", root / "2019" / "IMG_2682.heic")
    shutil.copy(PHOTOS / "tanners_ridge.jpg", root / "tanners_ridge.jpg")
    shutil.copy(VIDEOS / "h264_aac_640x360_3s.mp4", root / "clip.mp4")
    shutil.copy(PHOTOS / "denali.webp", root / "@eaDir" / "thumb.webp")  # a NAS thumbnail folder
    shutil.copy(PHOTOS / "mongolels.jpg", root / "._mongolels.jpg")  # a macOS resource fork
    (root / "notes.txt").write_text("not media")
    return root


@pytest.fixture
def library(user, folder, media_root):
    return save_library(owner=user, name="NAS", import_paths=[str(folder)])


def _paths(library) -> dict[str, Asset]:
    return {os.path.relpath(asset.original_path, library.import_paths[0]): asset
            for asset in Asset.objects.filter(library=library)}


# --- Patterns -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "path", "excluded"), [
    ("**/@eaDir/**", "/nas/photos/@eaDir/thumb.webp", True),
    ("**/@eaDir/**", "/nas/photos/@eaDir/", True),
    ("**/@eaDir/**", "/nas/photos/eaDir/thumb.webp", False),
    ("**/._*", "/nas/photos/._mongolels.jpg", True),
    ("**/._*", "/nas/photos/a._b.jpg", False),
    ("*.tmp", "/nas/photos/deep/upload.tmp", True),
    ("/nas/photos/2019/*", "/nas/photos/2019/a.jpg", True),
    ("/nas/photos/2019/*", "/nas/photos/2019/sub/a.jpg", False),
    ("**/IMG_[0-9]*.heic", "/x/IMG_2682.heic", True),
    ("**/IMG_[!0-9]*.heic", "/x/IMG_2682.heic", False),
])
def test_exclusion_patterns(pattern, path, excluded):
    assert is_excluded(path, [pattern]) is excluded
    assert compile_pattern(pattern)


# --- Saving ---------------------------------------------------------------------------------------------


def test_import_paths_must_exist_and_be_folders(user, folder, media_root, tmp_path):
    with pytest.raises(LibraryInputError) as failure:
        save_library(owner=user, name="Broken", import_paths=[str(folder), str(tmp_path / "missing"),
                                                              "relative/path", str(folder / "tanners_ridge.jpg")])
    assert failure.value.errors == {"import_paths": [
        f"“{tmp_path / 'missing'}” does not exist.",
        "“relative/path” is not an absolute path.",
        f"“{folder / 'tanners_ridge.jpg'}” is not a folder.",
    ]}
    assert not Library.objects.exists()  # nothing saved, not even with the good path


def test_the_servers_media_folder_cannot_be_imported(user, media_root):
    media_root.mkdir(parents=True, exist_ok=True)
    with pytest.raises(LibraryInputError, match="overlaps the server's own media folder"):
        save_library(owner=user, name="Loop", import_paths=[str(media_root)])


def test_new_library_gets_immichs_default_exclusions(library):
    assert library.exclusion_patterns == ["**/@eaDir/**", "**/._*", "**/#recycle/**", "**/#snapshot/**"]
    assert library.owner.email == "user@example.com"


# --- Scanning -------------------------------------------------------------------------------------------


def test_first_scan_imports_supported_files_except_excluded_ones(library):
    result = scan_library(library.id)
    assert (result.new, result.changed, result.offline, result.online, result.errors) == (3, 0, 0, 0, [])
    assets = _paths(library)
    assert sorted(assets) == ["2019/IMG_2682.heic", "clip.mp4", "tanners_ridge.jpg"]
    assert {asset.type for asset in assets.values()} == {"image", "video"}
    assert assets["tanners_ridge.jpg"].checksum == sha1_of(PHOTOS / "tanners_ridge.jpg")
    assert set(result.to_process) == {asset.id for asset in assets.values()}
    library.refresh_from_db()
    assert (library.last_scan_new, library.last_scan_changed, library.last_scan_offline) == (3, 0, 0)
    assert library.last_scanned_at is not None


def test_rescan_of_unchanged_files_does_nothing(library):
    scan_library(library.id)
    result = scan_library(library.id)
    assert (result.new, result.changed, result.offline, result.online, result.unchanged) == (0, 0, 0, 0, 3)
    assert result.to_process == []


def test_changed_files_are_detected_by_size_and_time(library, folder):
    scan_library(library.id)
    before = _paths(library)["tanners_ridge.jpg"]
    shutil.copy(PHOTOS / "mongolels.jpg", folder / "tanners_ridge.jpg")  # replaced by another photo
    result = scan_library(library.id)
    assert (result.new, result.changed) == (0, 1)
    assert result.to_process == [before.id]
    after = Asset.objects.get(pk=before.id)
    assert after.checksum == sha1_of(PHOTOS / "mongolels.jpg")
    assert after.metadata_extracted_at is None  # metadata will be read again

    os.utime(folder / "clip.mp4", (1_700_000_000, 1_700_000_000))  # same size, new modification time
    assert scan_library(library.id).changed == 1


def test_removed_and_newly_excluded_files_go_offline_and_stay_on_disk(library, folder):
    scan_library(library.id)
    (folder / "clip.mp4").unlink()
    save_library(library, exclusion_patterns=library.exclusion_patterns + ["**/2019/**"])
    result = scan_library(library.id)
    assert (result.offline, result.new, result.changed) == (2, 0, 0)
    assets = _paths(library)
    assert assets["clip.mp4"].is_offline and assets["2019/IMG_2682.heic"].is_offline
    assert not assets["tanners_ridge.jpg"].is_offline
    assert (folder / "2019" / "IMG_2682.heic").exists()  # excluded, never deleted
    library.refresh_from_db()
    assert library.last_scan_offline == 2

    assert scan_library(library.id).offline == 0  # already offline: not counted again


def test_returning_files_come_back_online(library, folder):
    scan_library(library.id)
    moved = folder.parent / "elsewhere.jpg"
    (folder / "tanners_ridge.jpg").rename(moved)
    assert scan_library(library.id).offline == 1
    moved.rename(folder / "tanners_ridge.jpg")
    result = scan_library(library.id)
    assert (result.online, result.offline, result.new) == (1, 0, 0)
    assert not _paths(library)["tanners_ridge.jpg"].is_offline
    library.refresh_from_db()
    assert library.last_scan_online == 1


def test_a_vanished_import_path_is_reported_and_its_files_go_offline(library, folder, tmp_path):
    scan_library(library.id)
    folder.rename(tmp_path / "unmounted")
    result = scan_library(library.id)
    assert result.errors == [f"“{folder}” does not exist."]
    assert result.offline == 3
    library.refresh_from_db()
    assert library.last_scan_errors == result.errors
    assert Asset.objects.filter(library=library).count() == 3  # offline, not removed


def test_force_treats_every_file_as_changed(library):
    scan_library(library.id)
    result = scan_library(library.id, force=True)
    assert (result.changed, result.unchanged) == (3, 0)


def test_every_library_is_listed_for_the_cron(library, user, folder):
    second = save_library(owner=user, name="Second", import_paths=[str(folder / "2019")])
    assert set(libraries.library_ids_to_scan()) == {library.id, second.id}


# --- Scanning at scale: the fast paths agree with the plain rules ----------------------------------------

SCAN_PATTERNS = [
    ["**/@eaDir/**", "**/._*", "**/#recycle/**", "**/#snapshot/**"],  # Immich's defaults
    ["*.mp4", "**/Thumbs*", "**/ca?he/**"],
    ["**/IMG_[!0-9]*.jpg", "/ROOT/keep/*", "**/deep/**/x*.jpg", "**/*"],
    [],
]


@pytest.mark.parametrize("patterns", SCAN_PATTERNS)
def test_the_walk_finds_exactly_the_supported_files_that_no_pattern_excludes(tmp_path, patterns):
    root = tmp_path / "lib"
    names = ["a.jpg", "B.JPG", "._a.jpg", "clip.mp4", "notes.txt", ".jpg", "..jpg", "x.", "Thumbs1.png",
             "IMG_x.jpg", "IMG_1.jpg", "x1.jpg", "weird name ü.heic"]
    for folder in ["", "@eaDir", "cache", "keep", "keep/sub", "deep/a/b", "#recycle/inner", "ok.jpg"]:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / folder / name).write_bytes(b"x")
    patterns = [pattern.replace("/ROOT", str(root)) for pattern in patterns]

    found = {path for files in libraries.walk([str(root)], patterns, []) for path, _size, _mtime in files}

    expected = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if not is_excluded(os.path.join(folder, name) + "/", patterns)]
        expected |= {os.path.join(folder, name) for name in files if libraries.asset_type_for(name)
                     and not is_excluded(os.path.join(folder, name), patterns)}
    assert found == expected
    assert patterns != SCAN_PATTERNS[0] or f"{root}/@eaDir/a.jpg" not in found and f"{root}/a.jpg" in found


def test_an_import_path_inside_an_excluded_folder_imports_nothing(user, folder, media_root):
    library = save_library(owner=user, name="NAS", import_paths=[str(folder / "@eaDir")])
    assert scan_library(library.id).new == 0


def test_rows_stored_before_nanosecond_times_are_not_taken_for_changed(library):
    """file_modified_at used to be the only time kept, rounded to the microsecond: the migration copies it
    into file_mtime_ns, and a rescan must not re-read every file for that."""
    scan_library(library.id)
    for asset in Asset.objects.filter(library=library):
        microseconds = round(os.stat(asset.original_path).st_mtime * 1_000_000)
        Asset.objects.filter(pk=asset.pk).update(file_mtime_ns=microseconds * 1000)
    result = scan_library(library.id)
    assert (result.unchanged, result.changed) == (3, 0)
    assert scan_library(library.id, force=True).changed == 3


def test_a_scan_hands_the_assets_to_process_in_batches(library, folder, monkeypatch):
    monkeypatch.setattr(libraries, "BULK_SIZE", 2)
    batches = []
    result = scan_library(library.id, process=batches.append)
    assert result.new == 3 and result.to_process == []
    assert sorted(len(batch) for batch in batches) == [1, 2]
    assert {asset_id for batch in batches for asset_id in batch} == set(
        Asset.objects.filter(library=library).values_list("id", flat=True))
