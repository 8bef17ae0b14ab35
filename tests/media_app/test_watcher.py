"""Library watching with a real `manage.py runjobs` (its watcher process): a file written slowly is
imported once, complete; toggling library.watch.enabled starts and stops watching live; with polling
(network mounts) moves and deletions are seen too; with two worker machines only one watches, and the
other takes over when it stops."""

import hashlib
import shutil
import signal
import socket
import time

import pytest

from jobs_app.locks import holder_of
from jobs_app.models import Job
from media_app.models import Asset
from media_app.services import libraries, thumbnails
from media_app.services.watcher import WATCH_LOCK
from settings_app.services import save_values
from tests.jobs_app import conftest as jobs_fixtures
from tests.jobs_app.conftest import wait_for, worker_output

from .conftest import PHOTOS

pytestmark = pytest.mark.django_db(transaction=True)

start_worker = jobs_fixtures.start_worker  # real `manage.py runjobs` processes (a fixture)
PHOTO_A, PHOTO_B = PHOTOS / "mongolels.jpg", PHOTOS / "tanners_ridge.jpg"
FAST_WATCH = {"LIBRARY_WATCH_STABLE_SECONDS": "1", "LIBRARY_WATCH_POLL_SECONDS": "0.3",
              "LIBRARY_WATCH_RECONCILE_SECONDS": "0.5"}


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "library"
    path.mkdir()
    return path


@pytest.fixture
def library(user, folder, shared_media):
    return libraries.save_library(owner=user, name="Watched", import_paths=[str(folder)])


def set_watch(admin_user, enabled: bool, polling: bool = False) -> None:
    result = save_values({"library.watch.enabled": enabled, "library.watch.usePolling": polling}, user=admin_user,
                         from_form=False)
    assert result.ok, result.messages()


def imported(library, name: str):
    return Asset.objects.filter(library=library, original_filename=name).first()


def fully_processed(library, name: str):
    asset = imported(library, name)
    return asset if asset and asset.thumbnails_generated_at else None


def test_a_file_written_slowly_is_imported_once_and_complete(admin_user, library, folder, start_worker):
    set_watch(admin_user, True)
    worker = start_worker(env=FAST_WATCH)
    wait_for(lambda: "watching 1 folder(s)" in worker_output(worker), message="the watcher to start")

    content = PHOTO_A.read_bytes()
    target = folder / "slow.jpg"
    chunks = 12
    step = len(content) // chunks + 1
    with open(target, "wb") as stream:
        for index in range(chunks):  # ~2.4 s in all, longer than the 1 s stability time
            stream.write(content[index * step:(index + 1) * step])
            stream.flush()
            time.sleep(0.2)
            assert imported(library, "slow.jpg") is None, "imported while still being written"

    asset = wait_for(lambda: fully_processed(library, "slow.jpg"), timeout=30, message="the import and its chain")
    assert asset.file_size == len(content)
    assert asset.checksum == hashlib.sha1(content).hexdigest()
    assert asset.width and asset.metadata_extracted_at and not asset.metadata_error
    assert thumbnails.absolute(asset.thumbnail_path).is_file()
    time.sleep(1.5)  # no late second import
    assert Asset.objects.filter(library=library).count() == 1
    assert Job.objects.filter(name="AssetExtractMetadata", data__id=str(asset.pk)).count() == 1


def test_toggling_the_setting_starts_and_stops_watching_live(admin_user, library, folder, start_worker):
    set_watch(admin_user, False)
    worker = start_worker(env=FAST_WATCH)
    time.sleep(1)
    shutil.copy(PHOTO_A, folder / "before.jpg")
    time.sleep(2.5)
    assert not Asset.objects.exists()  # off: nothing watches

    set_watch(admin_user, True)
    wait_for(lambda: "watching 1 folder(s)" in worker_output(worker), message="the watcher to start")
    shutil.copy(PHOTO_B, folder / "during.jpg")
    wait_for(lambda: fully_processed(library, "during.jpg"), timeout=30, message="the watched import")

    set_watch(admin_user, False)
    wait_for(lambda: "library watcher: stopped" in worker_output(worker), message="the watcher to stop")
    shutil.copy(PHOTO_A, folder / "after.jpg")
    time.sleep(2.5)
    assert sorted(Asset.objects.values_list("original_filename", flat=True)) == ["during.jpg"]


def test_polling_sees_moves_changes_and_deletions(admin_user, library, folder, start_worker):
    set_watch(admin_user, True, polling=True)
    worker = start_worker(env=FAST_WATCH)
    wait_for(lambda: "watching 1 folder(s) by polling" in worker_output(worker), message="the polling watcher")
    shutil.copy(PHOTO_A, folder / "a.jpg")
    first = wait_for(lambda: fully_processed(library, "a.jpg"), timeout=30, message="the import")

    (folder / "sub").mkdir()
    (folder / "a.jpg").rename(folder / "sub" / "moved.jpg")
    moved = wait_for(lambda: fully_processed(library, "moved.jpg"), timeout=30, message="the moved file")
    wait_for(lambda: Asset.objects.get(pk=first.pk).is_offline, timeout=30, message="the old path going offline")
    assert moved.original_path == str(folder / "sub" / "moved.jpg")

    shutil.copy(PHOTO_B, folder / "sub" / "moved.jpg")  # the content changes in place
    wait_for(lambda: Asset.objects.get(pk=moved.pk).checksum == hashlib.sha1(PHOTO_B.read_bytes()).hexdigest(),
             timeout=30, message="the change")
    changed = wait_for(lambda: fully_processed(library, "moved.jpg"), timeout=30, message="the change's chain")
    assert changed.file_size == PHOTO_B.stat().st_size

    (folder / "sub" / "moved.jpg").unlink()
    wait_for(lambda: Asset.objects.get(pk=moved.pk).is_offline, timeout=30, message="the deletion")
    assert Asset.objects.filter(library=library).count() == 2  # offline, never deleted


def watching(worker) -> bool:
    output = worker_output(worker)
    return output.rfind("watching 1 folder(s)") > output.rfind("library watcher: stopped")


def test_two_worker_machines_watch_one_at_a_time_and_the_other_takes_over(admin_user, library, folder,
                                                                         start_worker):
    set_watch(admin_user, True)
    workers = [start_worker(env=FAST_WATCH), start_worker(env=FAST_WATCH)]
    holder = wait_for(lambda: next((worker for worker in workers if watching(worker)), None),
                      message="one watcher to start")
    other = workers[1 - workers.index(holder)]
    time.sleep(2)  # several lock rounds: the other never starts watching meanwhile
    assert not watching(other), worker_output(other)
    assert holder_of(WATCH_LOCK) == f"{socket.gethostname()}:{holder.pid}"

    shutil.copy(PHOTO_A, folder / "first.jpg")
    asset = wait_for(lambda: fully_processed(library, "first.jpg"), timeout=30, message="the watched import")
    time.sleep(1.5)  # no second import by the other machine
    assert Asset.objects.filter(library=library).count() == 1
    assert Job.objects.filter(name="AssetExtractMetadata", data__id=str(asset.pk)).count() == 1

    holder.send_signal(signal.SIGTERM)  # the watching machine stops: it hands the lock over
    assert holder.wait(20) == 0
    wait_for(lambda: watching(other), timeout=10, message="the other machine to take over")
    assert holder_of(WATCH_LOCK) == f"{socket.gethostname()}:{other.pid}"
    shutil.copy(PHOTO_B, folder / "second.jpg")
    wait_for(lambda: fully_processed(library, "second.jpg"), timeout=30, message="the import after the takeover")
    assert Asset.objects.filter(library=library).count() == 2


# --- sync_path and the stability rule, in this process ---------------------------------------------------


def test_sync_path_imports_excludes_and_marks_gone_folders_offline(library, folder):
    from media_app.services.watcher import sync_path

    (folder / "trip").mkdir()
    shutil.copy(PHOTO_A, folder / "trip" / "a.jpg")
    shutil.copy(PHOTO_B, folder / "trip" / "b.jpg")
    (folder / "notes.txt").write_text("not media")
    assert len(sync_path(str(folder / "trip" / "a.jpg")) + sync_path(str(folder / "trip" / "b.jpg"))) == 2
    assert sync_path(str(folder / "notes.txt")) == []
    assert sync_path(str(folder / "trip" / "a.jpg")) == []  # unchanged: nothing queued again

    library.exclusion_patterns = ["**/b.jpg"]
    library.save()
    sync_path(str(folder / "trip" / "b.jpg"))
    assert Asset.objects.get(original_filename="b.jpg").is_offline

    shutil.rmtree(folder / "trip")
    sync_path(str(folder / "trip"))
    assert Asset.objects.filter(is_offline=True).count() == 2 == Asset.objects.count()
    assert Job.objects.filter(name="AssetExtractMetadata", data__source="watch").count() == 2


def test_a_path_is_due_only_after_it_stopped_changing(folder, monkeypatch):
    from media_app.services import watcher

    monkeypatch.setattr(watcher, "STABLE_SECONDS", 5)
    target = folder / "growing.jpg"
    target.write_bytes(b"x" * 10)
    tracker = watcher.LibraryWatcher()
    tracker.mark(str(target))
    start = time.monotonic()
    assert tracker.due_paths(start + 4) == []
    with open(target, "ab") as stream:
        stream.write(b"more")
    assert tracker.due_paths(start + 6) == []  # it grew: the clock starts again
    assert tracker.due_paths(start + 10) == []
    assert tracker.due_paths(start + 11.1) == [str(target)]
    assert tracker.pending == {}
