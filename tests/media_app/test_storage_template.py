"""The storage template applied to originals: uploads land where each preset says, clashes get +N and re-runs
leave them, album tokens, template changes and migration (no empty folder left), crash-safe moves (every
interrupted state, a real kill -9, a second tmpfs with hash verification), external files untouched and
path traversal refused."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs_app.handlers import get_handler
from jobs_app.models import Job
from media_app.models import Asset, Library, MoveHistory, StorageMigrationReport
from media_app.services import storage
from media_app.services.files import sha1_of
from media_app.services.upload import store_upload
from media_app.storage_template import PRESETS
from settings_app.services import refresh_config, save_values

from .conftest import PHOTOS, VIDEOS

NOKIA = PHOTOS / "HMD_Nokia_8.3_5G.jpg"  # taken 2022-08-14 14:12:31 +03:00 (ISO week 32)
VIDEO = VIDEOS / "h264_aac_640x360_3s.mp4"
ROOT = Path(__file__).resolve().parents[2]


def enable(template="{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}", **more):
    values = {"storageTemplate.enabled": True, "storageTemplate.template": template}
    values.update({f"storageTemplate.{name}": value for name, value in more.items()})
    result = save_values(values)
    assert result.ok, result
    refresh_config()


def run_jobs() -> list[str]:
    """Run every pending job in this process, in order, as a worker would; their outcomes."""
    outcomes = []
    while job := Job.objects.filter(status__in=Job.PENDING).order_by("id").first():
        outcomes.append(get_handler(job.name).func(job))
        Job.objects.filter(pk=job.pk).update(status=Job.COMPLETED)
    return outcomes


def upload(owner, path: Path, name: str | None = None, capture=None) -> Asset:
    with capture(execute=True):
        result = store_upload(owner, SimpleUploadedFile(name or path.name, path.read_bytes()))
    assert result.status == "created", result
    return Asset.objects.get(pk=result.asset_id)


@pytest.fixture(autouse=True)
def _no_machine_learning(db):
    """The upload chain runs here in-process with no ML service: face detection answers "skipped"."""
    assert save_values({"machineLearning.enabled": False}).ok
    refresh_config()


@pytest.fixture
def server_tz(settings):
    settings.TIME_ZONE = "Europe/Helsinki"


EXPECTED = {  # the Nokia photo uploaded as "HMD_Nokia_8.3_5G.JPEG", server in Helsinki, no album
    "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}": "2022/2022-08-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MM}}-{{dd}}/{{filename}}": "2022/08-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MMMM}}-{{dd}}/{{filename}}": "2022/August-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MM}}/{{filename}}": "2022/08/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{#if album}}{{album}}{{else}}Other/{{MM}}{{/if}}/{{filename}}": "2022/Other/08/HMD_Nokia_8.3_5G.jpg",
    "{{#if album}}{{album-startDate-y}}/{{album}}{{else}}{{y}}/Other/{{MM}}{{/if}}/{{filename}}":
        "2022/Other/08/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MMM}}/{{filename}}": "2022/Aug/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MMMM}}/{{filename}}": "2022/August/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MM}}/{{dd}}/{{filename}}": "2022/08/14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{MMMM}}/{{dd}}/{{filename}}": "2022/August/14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{y}}-{{MM}}/{{y}}-{{MM}}-{{dd}}/{{filename}}": "2022/2022-08/2022-08-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}-{{MM}}-{{dd}}/{{filename}}": "2022-08-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}-{{MMM}}-{{dd}}/{{filename}}": "2022-Aug-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}-{{MMMM}}-{{dd}}/{{filename}}": "2022-August-14/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{y}}-{{MM}}/{{filename}}": "2022/2022-08/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{y}}-{{WW}}/{{filename}}": "2022/2022-32/HMD_Nokia_8.3_5G.jpg",
    "{{y}}/{{y}}-{{MM}}-{{dd}}/{{assetId}}": "2022/2022-08-14/{id}.jpg",
    "{{y}}/{{y}}-{{MM}}/{{assetId}}": "2022/2022-08/{id}.jpg",
    "{{y}}/{{y}}-{{WW}}/{{assetId}}": "2022/2022-32/{id}.jpg",
    "{{album}}/{{filename}}": "HMD_Nokia_8.3_5G.jpg",
    "{{make}}/{{model}}/{{lensModel}}/{{filename}}": "HMD Global/Nokia 8.3 5G/HMD_Nokia_8.3_5G.jpg",
}


def test_every_preset_has_an_expected_path():
    assert set(EXPECTED) == set(PRESETS)


@pytest.mark.parametrize("template", PRESETS)
def test_upload_with_each_preset_lands_at_the_expected_path(template, user, media_root, server_tz,
                                                            django_capture_on_commit_callbacks):
    enable(template)
    asset = upload(user, NOKIA, "HMD_Nokia_8.3_5G.JPEG", django_capture_on_commit_callbacks)
    run_jobs()
    asset.refresh_from_db()
    expected = Path(media_root) / "library" / str(user.pk) / EXPECTED[template].format(id=asset.pk)
    assert asset.original_path == str(expected)
    assert expected.read_bytes() == NOKIA.read_bytes()
    assert asset.thumbnail_path  # thumbnails ran after the move, from the new place
    assert not list((Path(media_root) / "upload").rglob("*.jp*g"))  # nothing left at the upload path


def test_more_tokens_and_the_storage_label(user, media_root, server_tz, django_capture_on_commit_callbacks):
    user.storage_label = "alice"
    user.save()
    enable("{{filetype}}-{{filetypefull}}/{{yy}}{{M}}{{d}}-{{H}}{{mm}}{{ss}}-{{h}}{{hh}}/{{W}}/{{assetIdShort}}-{{ext}}")
    asset = upload(user, VIDEO, "Clip.MPEG", django_capture_on_commit_callbacks)  # not really MPEG: name only
    run_jobs()
    asset.refresh_from_db()
    local = storage._local(asset.taken_at)
    expected = (Path(media_root) / "library" / "alice" / "VID-VIDEO" /
                f"{local:%y}{local.month}{local.day}-{local.hour}{local:%M%S}-{local.hour % 12 or 12}"
                f"{local.hour % 12 or 12:02d}" / str(local.isocalendar()[1]) / f"{str(asset.pk)[-12:]}-mpg.mpg")
    assert asset.original_path == str(expected) and expected.exists()


def test_dates_are_the_photos_own_in_the_server_timezone(user, media_root, settings,
                                                         django_capture_on_commit_callbacks):
    settings.TIME_ZONE = "America/Los_Angeles"  # 11:12 UTC on 14 Aug is 04:12 the same day there
    enable("{{y}}-{{MM}}-{{dd}}-{{HH}}/{{filename}}")
    asset = upload(user, NOKIA, capture=django_capture_on_commit_callbacks)
    run_jobs()
    asset.refresh_from_db()
    assert Path(asset.original_path).parent.name == "2022-08-14-04"


def test_clashes_get_plus_n_and_reruns_leave_them(user, media_root, django_capture_on_commit_callbacks):
    enable("{{filename}}")
    first = upload(user, NOKIA, "same.jpg", django_capture_on_commit_callbacks)
    second = upload(user, PHOTOS / "IMG_2682_displayp3.jpg", "same.jpg", django_capture_on_commit_callbacks)
    third = upload(user, PHOTOS / "gps-datetime.jpg", "same.jpg", django_capture_on_commit_callbacks)
    run_jobs()
    names = {Path(Asset.objects.get(pk=asset.pk).original_path).name for asset in (first, second, third)}
    assert names == {"same.jpg", "same+1.jpg", "same+2.jpg"}
    before = {asset.pk: asset.original_path for asset in Asset.objects.all()}
    report = storage.migrate_all()
    assert (report.moved, report.in_place) == (0, 3)
    assert {asset.pk: asset.original_path for asset in Asset.objects.all()} == before
    for path in before.values():
        assert Path(path).exists() and Path(path).name.startswith("same")


def test_album_tokens_render_from_the_albums_function(user, media_root, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    template = "{{#if album}}{{album-startDate-y}}-{{album-endDate-MM}}/{{album}}{{else}}none{{/if}}/{{filename}}"
    enable(template)
    asset = upload(user, NOKIA, "a.jpg", django_capture_on_commit_callbacks)
    run_jobs()
    asset.refresh_from_db()
    assert Path(asset.original_path).relative_to(storage.user_root(user)) == Path("none/a.jpg")

    albums = [storage.AlbumFacts("Trip. To/Oslo", datetime(2021, 12, 31, 12, tzinfo=UTC),
                                 datetime(2023, 5, 6, 12, tzinfo=UTC))]
    monkeypatch.setattr(storage, "asset_albums", lambda asset: albums)
    report = storage.migrate_all()  # an album change re-places the asset
    asset.refresh_from_db()
    assert report.moved == 1
    # Dots are removed from the album name and its slash is not a folder.
    assert Path(asset.original_path).relative_to(storage.user_root(user)) == Path("2021-05/Trip To_Oslo/a.jpg")


def test_a_template_change_and_migration_move_everything_and_leave_no_empty_folder(
        user, admin_user, media_root, django_capture_on_commit_callbacks):
    assets = [upload(owner, path, capture=django_capture_on_commit_callbacks)
              for owner, path in ((user, NOKIA), (user, PHOTOS / "mongolels.jpg"), (admin_user, VIDEO))]
    run_jobs()  # template disabled: the files stay in the upload folder
    assert all("/upload/" in Asset.objects.get(pk=asset.pk).original_path for asset in assets)
    Asset.objects.filter(pk=assets[1].pk).update(deleted_at=datetime.now(UTC))  # trashed ones move too

    enable("{{y}}/{{MM}}/{{filename}}")
    first = storage.migrate_all()
    assert (first.moved, first.skipped_count) == (3, 0)
    enable("by-type/{{filetype}}/{{filename}}")
    second = storage.migrate_all()
    assert (second.moved, second.in_place) == (3, 0)
    for asset in Asset.objects.all():
        path = Path(asset.original_path)
        assert path.exists() and path.parent.parent.name == "by-type"
    files = [path for path in Path(media_root).rglob("*") if path.is_file() and "thumbs" not in path.parts]
    assert sorted(map(str, files)) == sorted(asset.original_path for asset in Asset.objects.all())
    empty = [folder for folder, dirs, names in os.walk(media_root) if not dirs and not names]
    # Only the users' upload folders stay (where the next upload arrives).
    assert sorted(empty) == sorted(str(Path(media_root) / "upload" / str(owner.pk)) for owner in (user, admin_user))
    assert StorageMigrationReport.objects.count() == 2

    save_values({"storageTemplate.enabled": False})
    refresh_config()
    placed = {asset.pk: asset.original_path for asset in Asset.objects.all()}
    assert storage.migrate_all() is None
    assert {asset.pk: asset.original_path for asset in Asset.objects.all()} == placed


def test_the_migration_job_handler_reports(user, media_root, django_capture_on_commit_callbacks):
    upload(user, NOKIA, capture=django_capture_on_commit_callbacks)
    run_jobs()
    enable()
    Job.objects.create(queue="storageTemplateMigration", name="StorageTemplateMigration", data={})
    assert run_jobs() == ["1 moved, 0 already in place, 0 skipped, 0 interrupted move(s) resolved, "
                          "2 empty folder(s) removed"]


def test_external_library_files_are_never_moved(user, media_root, tmp_path):
    folder = tmp_path / "external"
    folder.mkdir()
    shutil.copy(NOKIA, folder / "photo.jpg")
    library = Library.objects.create(owner=user, name="NAS", import_paths=[str(folder)])
    asset = Asset.objects.create(owner=user, library=library, type="image", original_path=str(folder / "photo.jpg"),
                                 original_filename="photo.jpg", checksum=sha1_of(NOKIA), file_size=NOKIA.stat().st_size)
    enable()
    report = storage.migrate_all()
    assert report.moved == 0 and (folder / "photo.jpg").exists()
    assert Asset.objects.get(pk=asset.pk).original_path == str(folder / "photo.jpg")
    assert storage.place_asset(asset, "{{filename}}", verify_hash=True).outcome == "skipped"


@pytest.mark.parametrize("template", ["../admin2/{{filename}}", "{{y}}/../../{{filename}}", "..", "/../{{filename}}"])
def test_path_traversal_templates_are_refused_by_validation(template, db):
    result = save_values({"storageTemplate.template": template})
    assert not result.ok and "outside the user's folder" in str(result)


def test_traversal_through_values_and_the_sibling_folder_case(user, media_root, make_asset, tmp_path):
    photo = tmp_path / "..jpg"
    shutil.copy(NOKIA, photo)
    asset = make_asset(photo, make="..", model="a/../../b", lens_model="CON")
    path = storage.planned_path(asset, "{{model}}/{{lensModel}}/{{filename}}")
    # Separators in a value are not folders, a reserved name is prefixed, a "." name goes.
    assert path == storage.user_root(user) / "a_.._.._b" / "_CON.jpg"
    with pytest.raises(storage.PlacementRefused, match="outside"):
        storage.planned_path(asset, "{{make}}/{{filename}}")  # a camera called ".." is not a way out
    root = Path(media_root) / "library" / "admin"
    assert not storage.is_inside(root, root.parent / "admin2" / "x.jpg")  # startswith would say yes
    assert not storage.is_inside(root, root / ".." / "admin2" / "x")
    assert storage.is_inside(root, root / "2022" / "x.jpg")


def test_a_refusal_leaves_the_asset_and_shows_the_reason(user, media_root, make_asset, tmp_path):
    photo = tmp_path / "x.jpg"
    shutil.copy(NOKIA, photo)
    asset = make_asset(photo, make="..")
    placement = storage.place_asset(asset, "{{make}}/{{filename}}", verify_hash=True)
    asset.refresh_from_db()
    assert placement.outcome == "skipped" and asset.original_path == str(photo) and photo.exists()
    assert "outside the user's folder" in asset.storage_error


# --- Crash safety ------------------------------------------------------------------------------------------


def interrupted(asset, new: Path, *, renamed: bool, copied: bool = False, db_updated: bool = False):
    old = Path(asset.original_path)
    move = MoveHistory.objects.create(asset=asset, old_path=str(old), new_path=str(new))
    new.parent.mkdir(parents=True, exist_ok=True)
    if renamed:
        os.rename(old, new)
    elif copied:
        new.write_bytes(old.read_bytes()[: len(old.read_bytes()) // 2])  # a copy cut short
    if db_updated:
        Asset.objects.filter(pk=asset.pk).update(original_path=str(new))
    return move


@pytest.mark.parametrize("state, final", [
    ({"renamed": False}, "old"),  # the move row, nothing else
    ({"renamed": False, "copied": True}, "old"),  # a cross-device copy half-written
    ({"renamed": True}, "new"),  # renamed, the database not updated
    ({"renamed": True, "db_updated": True}, "new"),  # the old copy's removal pending
])
def test_each_interrupted_step_is_completed_or_rolled_back(state, final, user, media_root, make_asset, tmp_path):
    photo = tmp_path / "x.jpg"
    shutil.copy(NOKIA, photo)
    asset = make_asset(photo)
    new = storage.user_root(user) / "2022" / "x.jpg"
    if state.get("db_updated"):
        shutil.copy(NOKIA, photo.with_name("keep.jpg"))
    interrupted(asset, new, **state)
    if state.get("db_updated"):  # the old copy is still there (its unlink never happened)
        shutil.copy(photo.with_name("keep.jpg"), photo)
    assert storage.recover_interrupted_moves(verify_hash=True) == 1
    asset.refresh_from_db()
    expected = photo if final == "old" else new
    other = new if final == "old" else photo
    assert asset.original_path == str(expected) and expected.read_bytes() == NOKIA.read_bytes()
    assert not other.exists() and not MoveHistory.objects.exists()


def _moved() -> int:
    return Asset.objects.filter(original_path__contains="/library/").count()


def _kill_during_migration(child_env, after_moves: int, extra_delay: float) -> int:
    """Start a migration in a real process and kill -9 it once it has moved `after_moves` more assets."""
    start = _moved()
    code = "from media_app.services.storage import migrate_all; migrate_all(batch_size=4)"  # kills land mid-batch
    process = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=child_env)
    deadline = time.monotonic() + 60
    while _moved() < start + after_moves and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(extra_delay)
    process.kill()
    return process.wait()


def _assert_consistent(originals: dict[uuid.UUID, str]):
    assets = list(Asset.objects.all())
    for asset in assets:
        path = Path(asset.original_path)
        assert path.exists(), f"{asset.pk} points at a missing file"
        assert hashlib.sha1(path.read_bytes()).hexdigest() == originals[asset.pk]
    return assets


@pytest.mark.django_db(transaction=True)
def test_kill_9_during_a_migration_then_rerun_loses_and_duplicates_nothing(user, shared_media, child_env):
    source = NOKIA.read_bytes()
    originals = {}
    for number in range(300):
        content = source + number.to_bytes(4, "big")  # distinct content, distinct checksums
        path = Path(shared_media) / "upload" / str(user.pk) / f"{number:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        asset = Asset.objects.create(owner=user, type="image", original_path=str(path), original_filename=path.name,
                                     checksum=hashlib.sha1(content).hexdigest(), file_size=len(content),
                                     taken_at=datetime(2020 + number % 3, 1 + number % 12, 1, tzinfo=UTC))
        originals[asset.pk] = asset.checksum
    enable("{{y}}/{{MM}}/{{filename}}")
    moved_counts, interrupted_moves = [], 0
    for extra_delay in (0, 0.001, 0.003, 0.005, 0.01):
        assert _kill_during_migration(child_env, 20, extra_delay) == -9
        moved_counts.append(_moved())
        interrupted_moves += MoveHistory.objects.count()
    # Each kill landed during the migration (the next run first resolved what the previous one left).
    assert moved_counts == sorted(moved_counts) and 0 < moved_counts[-1] < 300, (moved_counts, interrupted_moves)
    report = storage.migrate_all()
    assets = _assert_consistent(originals)
    assert not MoveHistory.objects.exists() and report.skipped_count == 0
    assert all("/library/" in asset.original_path for asset in assets)
    files = [path for path in Path(shared_media).rglob("*.jpg")]
    assert len(files) == len(assets) == 300  # nothing lost, nothing left twice


# --- Across devices ------------------------------------------------------------------------------------------


@pytest.fixture
def second_device(tmp_path):
    mount = tmp_path / "xdev"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a second tmpfs: {done.stderr.decode()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_cross_device_move_copies_verifies_and_removes(user, media_root, second_device,
                                                         django_capture_on_commit_callbacks):
    Path(media_root).mkdir(parents=True, exist_ok=True)
    (Path(media_root) / "library").symlink_to(second_device)  # the library on another file system
    good = upload(user, NOKIA, "good.jpg", django_capture_on_commit_callbacks)
    bad = upload(user, PHOTOS / "mongolels.jpg", "bad.jpg", django_capture_on_commit_callbacks)
    run_jobs()
    # Bit rot after upload: same size, other content, so only the SHA1 can tell.
    damaged = bytearray(Path(bad.original_path).read_bytes())
    damaged[-100] ^= 0xFF
    Path(bad.original_path).write_bytes(bytes(damaged))
    assert os.stat(bad.original_path).st_dev != os.stat(second_device).st_dev

    enable("{{filename}}", hashVerificationEnabled=True)
    report = storage.migrate_all()
    good.refresh_from_db()
    bad.refresh_from_db()
    assert report.moved == 1 and report.skipped_count == 1
    assert Path(good.original_path) == storage.user_root(user) / "good.jpg"
    assert Path(good.original_path).read_bytes() == NOKIA.read_bytes()
    assert "/upload/" in bad.original_path and Path(bad.original_path).exists()
    assert "SHA1 differs" in bad.storage_error and "SHA1 differs" in report.skipped[0]["reason"]
    assert not (storage.user_root(user) / "bad.jpg").exists()  # the bad copy was removed
    assert list(Path(second_device).rglob("*.jpg")) == [second_device / str(user.pk) / "good.jpg"]

    save_values({"storageTemplate.hashVerificationEnabled": False})
    refresh_config()
    assert storage.migrate_all().moved == 1  # without hash verification only the size is compared


def test_dry_run_counts_and_samples_without_touching(user, media_root, django_capture_on_commit_callbacks):
    asset = upload(user, NOKIA, "a.jpg", django_capture_on_commit_callbacks)
    run_jobs()
    result = storage.dry_run("{{y}}/{{filename}}")
    assert (result.would_move, result.in_place, result.skipped) == (1, 0, 0)
    assert result.sample == [(asset.original_path, str(storage.user_root(user) / "2022" / "a.jpg"), True)]
    assert Path(Asset.objects.get(pk=asset.pk).original_path) == Path(asset.original_path)


def test_the_refusal_reason_is_on_the_asset_page_for_admins(admin_user, admin_client, make_asset, tmp_path, client):
    photo = tmp_path / "x.jpg"
    shutil.copy(NOKIA, photo)
    asset = make_asset(photo, owner=admin_user, make="..")
    storage.place_asset(asset, "{{make}}/{{filename}}", verify_hash=True)
    page = admin_client.get(f"/photos/{asset.pk}/").content.decode()
    assert "Not placed: storage template: renders to" in page and "outside the user&#x27;s folder" in page


def test_a_changed_date_is_re_placed_at_the_next_metadata_extraction(user, media_root,
                                                                      django_capture_on_commit_callbacks):
    enable("{{y}}/{{filename}}")
    asset = upload(user, PHOTOS / "density_plot.png", capture=django_capture_on_commit_callbacks)  # no date inside
    run_jobs()
    asset.refresh_from_db()
    assert Path(asset.original_path).parent.name == str(datetime.now(UTC).year)
    old_date = datetime(2015, 6, 1, tzinfo=UTC).timestamp()
    os.utime(asset.original_path, (old_date, old_date))  # the file's own date, all it has, changes
    from media_app.tasks import queue_metadata

    queue_metadata(asset.pk, "refresh")
    outcomes = run_jobs()
    asset.refresh_from_db()
    assert Path(asset.original_path) == storage.user_root(user) / "2015" / "density_plot.png"
    assert outcomes[-1] == f"moved: {asset.original_path}" and Path(asset.original_path).exists()
