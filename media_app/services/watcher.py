"""Library watching (library.watch.enabled, EXPERIMENTAL; Immich's chokidar watcher): a file created,
changed, moved or deleted under an import path is imported, updated or marked offline without a rescan.

Events only mark a path as pending; a path is processed once its size and modification time have stayed
the same for STABLE_SECONDS, so a file still being written (a copy in progress) is never imported half.
Operating-system events (inotify) do not arrive for network mounts: library.watch.usePolling switches to
watchdog's polling observer, which compares folder snapshots every POLL_SECONDS.

The watcher runs in its own process started by `manage.py runjobs` (the job sentinel forks its pool and
must keep no threads). That process re-reads the settings every second, so toggling the setting starts
or stops the observers live (config_init / config_update listeners), and it picks up libraries that
were created, edited or deleted every RECONCILE_SECONDS. With several worker machines only one watches
at a time: the holder of the WATCH_LOCK lease (jobs_app.locks), which another takes over when it stops."""

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass

from django import db
from django.db import DatabaseError, IntegrityError
from django.db.models import Q
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from jobs_app import conf as jobs_conf
from jobs_app.locks import LeaseLock, holder_of

from ..formats import asset_type_for
from ..models import Asset, Library
from . import libraries
from .files import sha1_of

log = logging.getLogger(__name__)

STABLE_SECONDS = float(os.environ.get("LIBRARY_WATCH_STABLE_SECONDS", "3"))
POLL_SECONDS = float(os.environ.get("LIBRARY_WATCH_POLL_SECONDS", "2"))
RECONCILE_SECONDS = float(os.environ.get("LIBRARY_WATCH_RECONCILE_SECONDS", "10"))
LOOP_SECONDS = 0.25
WATCH_LOCK = "library-watch"


@dataclass
class Pending:
    signature: tuple | None  # (size, mtime) when last looked at; None when the path is gone
    since: float  # monotonic time the signature was last seen to change (or an event arrived)


def _signature(path: str) -> tuple | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns) if not os.path.isdir(path) else ("dir",)


class _EventHandler(FileSystemEventHandler):
    def __init__(self, watcher: "LibraryWatcher"):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or (event.is_directory and event.event_type == "modified"):
            return  # a folder's own "modified" only repeats what its files' events say
        self.watcher.mark(os.fsdecode(event.src_path))
        if getattr(event, "dest_path", ""):
            self.watcher.mark(os.fsdecode(event.dest_path))


class LibraryWatcher:
    """Observers over every library's import paths, plus the pending paths they reported."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending: dict[str, Pending] = {}
        self.observer = None
        self.watched: tuple = ()  # (polling, sorted import paths) the observer serves
        self.may_watch = False  # whether this process holds the cluster's WATCH_LOCK

    # --- events -------------------------------------------------------------------------------------

    def mark(self, path: str) -> None:
        with self.lock:
            self.pending[path] = Pending(_signature(path), time.monotonic())

    def mark_files_under(self, folder: str) -> None:
        """A folder created or moved in: each of its files waits until it is stable, like any other."""
        for library in _libraries_of(folder):
            for files in libraries.walk([folder], library.exclusion_patterns, []):
                for path, _size, _mtime_ns in files:
                    self.mark(path)

    def due_paths(self, now: float | None = None) -> list[str]:
        """Pending paths unchanged for STABLE_SECONDS; a path that changed since is re-armed."""
        now = time.monotonic() if now is None else now
        due = []
        with self.lock:
            for path, pending in list(self.pending.items()):
                signature = _signature(path)
                if signature != pending.signature:
                    self.pending[path] = Pending(signature, now)
                elif now - pending.since >= STABLE_SECONDS:
                    due.append(path)
                    del self.pending[path]
        return due

    def process_due(self) -> int:
        due = self.due_paths()
        for path in due:
            try:
                if os.path.isdir(path):
                    self.mark_files_under(path)
                else:
                    sync_path(path)
            except Exception:
                log.exception("library watcher: processing %s failed", path)
        return len(due)

    # --- observers ----------------------------------------------------------------------------------

    def reconcile(self, config) -> None:
        """Watch exactly the import paths of every library when watching is on (and this process holds the
        lock); nothing otherwise."""
        enabled = config.library.watch.enabled and self.may_watch
        paths = sorted({path for paths in Library.objects.values_list("import_paths", flat=True) for path in paths
                        if os.path.isdir(path)}) if enabled else []
        wanted = (bool(config.library.watch.usePolling), tuple(paths)) if paths else ()
        if wanted == self.watched:
            return
        self.stop()
        if wanted:
            polling, paths = wanted
            observer = PollingObserver(timeout=POLL_SECONDS) if polling else Observer()
            handler = _EventHandler(self)
            for path in paths:
                observer.schedule(handler, path, recursive=True)
            observer.daemon = True
            observer.start()
            self.observer = observer
            log.info("library watcher: watching %d folder(s)%s", len(paths), " by polling" if polling else "")
        self.watched = wanted

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(5)
            self.observer = None
            log.info("library watcher: stopped")
        self.watched = ()
        with self.lock:
            self.pending.clear()


# --- What a settled path means for the database ------------------------------------------------------


def _libraries_of(path: str) -> list[Library]:
    return [library for library in Library.objects.all()
            if any(path == root or path.startswith(root.rstrip("/") + "/") for root in library.import_paths)]


def sync_path(path: str) -> list:
    """Bring the assets at `path` (a file, or a file or folder that is gone) up to date in every library
    that contains it. Returns the ids queued for metadata extraction (which continues to thumbnails)."""
    from ..tasks import queue_metadata_many  # the job layer imports the services, not the other way round

    queued = []
    for library in _libraries_of(path):
        if os.path.isfile(path):
            queued += _sync_file(library, path, os.stat(path))
        else:  # deleted or moved away: the file, or everything under the folder, goes offline
            gone = Asset.objects.filter(library=library, is_offline=False).filter(
                Q(original_path=path) | Q(original_path__startswith=path.rstrip("/") + "/"))
            count = gone.update(is_offline=True)
            if count:
                log.info("library watcher: %d asset(s) offline under %s", count, path)
    queue_metadata_many(queued, "watch")
    return queued


def _sync_file(library: Library, path: str, stat) -> list:
    asset = Asset.objects.filter(library=library, original_path=path).first()
    if not asset_type_for(path) or libraries.is_excluded(path, library.exclusion_patterns):
        if asset and not asset.is_offline:
            Asset.objects.filter(pk=asset.pk).update(is_offline=True)
        return []
    if asset is None:
        errors: list[str] = []
        new = libraries._new_asset(library, path, errors)
        if new is None:
            log.warning("library watcher: %s", "; ".join(errors))
            return []
        try:
            new.save()
        except IntegrityError:  # a scan imported it at the same moment
            return []
        log.info("library watcher: imported %s", path)
        return [new.pk]
    modified = libraries._mtime(stat)
    # The content decides, not size and time alone: a metadata job that ran after the write may already
    # have recorded the new size and time. An event for the file makes reading it worthwhile.
    checksum = sha1_of(path)
    if asset.checksum == checksum and asset.file_size == stat.st_size and asset.file_modified_at == modified:
        if asset.is_offline:
            Asset.objects.filter(pk=asset.pk).update(is_offline=False)
        return []
    Asset.objects.filter(pk=asset.pk).update(**libraries.file_facts(stat), checksum=checksum, is_offline=False,
                                             metadata_extracted_at=None)
    log.info("library watcher: %s changed", path)
    return [asset.pk]


# --- The watcher process ---------------------------------------------------------------------------------

_watcher: LibraryWatcher | None = None  # set only in the watcher process


def on_config(*configs) -> None:
    """config_init(new) / config_update(old, new) listener: (re)start or stop the observers live. Does
    nothing outside the watcher process (web servers, job pool processes)."""
    if _watcher is not None:
        _watcher.reconcile(configs[-1])


def watching_worker() -> str:
    """The job worker (host:pid of its runjobs) that watches the libraries now, "" when none does."""
    return holder_of(WATCH_LOCK)


def _stop_on_sigterm(signum, frame):
    sys.exit(0)  # unwinds run_forever, which hands the lock over


def run_forever() -> None:
    global _watcher
    from jobs_app.cluster import _die_with_parent
    from settings_app.services import get_config

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the job sentinel decides when runjobs stops
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    _watcher = LibraryWatcher()
    lock = LeaseLock(WATCH_LOCK, f"{socket.gethostname()}:{os.getppid()}")  # the worker_id of its runjobs
    next_reconcile = next_lock = 0.0
    try:
        while True:
            try:
                config = get_config()  # a saved change reaches on_config through config_update
                if time.monotonic() >= next_lock:
                    next_lock = time.monotonic() + jobs_conf.HEARTBEAT_SECONDS
                    # Only while watching is on does this process compete for (and keep) the lock.
                    may_watch = lock.hold() if config.library.watch.enabled else False
                    if not may_watch:
                        lock.release()
                    if may_watch != _watcher.may_watch:
                        _watcher.may_watch, next_reconcile = may_watch, 0.0
                if time.monotonic() >= next_reconcile:
                    _watcher.reconcile(config)
                    next_reconcile = time.monotonic() + RECONCILE_SECONDS
                _watcher.process_due()
            except Exception:
                log.exception("library watcher loop failed")
                db.close_old_connections()
            time.sleep(LOOP_SECONDS)
    finally:
        _watcher.stop()
        try:
            lock.release()
        except DatabaseError:
            pass  # the others take over once the lease runs out


def start_watcher_process(sender=None, **kwargs) -> multiprocessing.Process:
    """runjobs_starting receiver (`manage.py runjobs`, before its sentinel starts): the watcher in a child
    process (dies with runjobs). It idles while library.watch.enabled is off."""
    db.connections.close_all()  # the child must not share this process's database sockets
    process = multiprocessing.get_context("fork").Process(target=run_forever, name="library-watcher", daemon=True)
    process.start()
    return process


