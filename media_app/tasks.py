"""Job handlers of the media queues and of the nightly media tasks: thin wrappers that load by id and
call a service. Imported by MediaAppConfig.ready(). Immich's chain: upload / library import -> metadata
extraction -> thumbnails; each step queues the next one only for new files (the job's `source`), so
"Extract Metadata ALL" does not also regenerate every thumbnail."""

import functools

from django.dispatch import receiver

from jobs_app.handlers import job_handler
from jobs_app.queues import QUEUES, QUEUES_BY_NAME
from jobs_app.services import enqueue, enqueue_stream, report_progress
from jobs_app.tasks import register_item_source
from settings_app.services import get_config, refresh_config
from users_app.services import user_purging

from .models import Asset, AssetType
from .services import (
    companions,
    hls,
    integrity,
    libraries,
    memories,
    metadata,
    quota,
    storage,
    thumbnails,
    transcode,
    trash,
    upload,
)
from .signals import thumbnails_generated

METADATA = QUEUES_BY_NAME["metadataExtraction"]
THUMBNAILS = QUEUES_BY_NAME["thumbnailGeneration"]
LIBRARY = QUEUES_BY_NAME["library"]
VIDEO = QUEUES_BY_NAME["videoConversion"]
STORAGE = QUEUES_BY_NAME["storageTemplateMigration"]
SIDECAR = QUEUES_BY_NAME["sidecar"]

# Sources of new files whose metadata job continues the chain to thumbnails.
CHAINED_SOURCES = frozenset({"upload", "library", "watch"})


def queue_metadata(asset_id, source: str) -> None:
    """Start the chain for a new or changed file."""
    enqueue(METADATA.name, METADATA.item_job, {"id": str(asset_id), "source": source})


def queue_metadata_many(asset_ids, source: str) -> int:
    return enqueue_stream(METADATA.name, METADATA.item_job,
                          ({"id": str(asset_id), "source": source} for asset_id in asset_ids))


def _ids(source):
    """Queue-all item sources: ids as JSON strings, streamed."""
    return lambda force: (str(item) for item in source(force))


register_item_source(METADATA.name, _ids(metadata.asset_ids_to_extract))
register_item_source(THUMBNAILS.name, _ids(thumbnails.asset_ids_to_generate))
register_item_source(VIDEO.name, _ids(transcode.asset_ids_to_encode))
register_item_source(LIBRARY.name, _ids(lambda force: libraries.library_ids_to_scan()))
register_item_source(SIDECAR.name, _ids(companions.asset_ids_to_sync))


def _queue_derived_files(asset, source: str) -> None:
    """What a new or changed original needs once it is in place: thumbnails (which other apps' work follows,
    e.g. face detection: `thumbnails_generated`), and an encoded video."""
    enqueue(THUMBNAILS.name, THUMBNAILS.item_job, {"id": str(asset.id), "source": source})
    if asset.type == AssetType.VIDEO:
        enqueue(VIDEO.name, VIDEO.item_job, {"id": str(asset.id)})


def asset_job(name: str):
    """Register a per-asset handler, called as func(job, asset_id). The asset may be gone by the time its
    job runs (deleted meanwhile): then nothing is done. The config is re-read first, so that a run offered
    right after a save (reverse geocoding switched on, new thumbnail sizes, ...) uses the saved settings."""

    def register(func):
        @job_handler(name)
        @functools.wraps(func)
        def handler(job):
            asset_id = job.data["id"]
            if not Asset.objects.filter(pk=asset_id).exists():
                return f"asset {asset_id} no longer exists"
            refresh_config()
            return func(job, asset_id)

        return handler

    return register


@asset_job(METADATA.item_job)
def extract_metadata(job, asset_id) -> str:
    asset = metadata.extract_asset(asset_id)
    source = job.data.get("source")
    if get_config().storageTemplate.enabled and asset.library_id is None:
        # Every extraction (a new file, a changed date) re-places the original; thumbnails follow the move
        # so that they never read a file being moved.
        enqueue(STORAGE.name, STORAGE.item_job, {"id": str(asset.id), "source": source})
    elif source in CHAINED_SOURCES:
        _queue_derived_files(asset, source)
    return f"metadata of {asset.original_filename}" + (f" (unreadable: {asset.metadata_error})"
                                                        if asset.metadata_error else "")


@asset_job(THUMBNAILS.item_job)
def generate_thumbnails(job, asset_id) -> str:
    asset = thumbnails.generate_asset(asset_id)
    thumbnails_generated.send(sender=Asset, asset=asset, source=job.data.get("source", ""))
    return f"thumbnails of {asset.original_filename}"


@asset_job(VIDEO.item_job)
def encode_video(job, asset_id) -> str:
    return transcode.transcode_asset(asset_id, progress=lambda percent: report_progress(job, percent))


@asset_job(STORAGE.item_job)
def place_original(job, asset_id) -> str:
    """StorageTemplateMigrationSingle (after metadata extraction): the original to its template path."""
    placement = storage.place_asset_by_id(asset_id)
    if job.data.get("source") in CHAINED_SOURCES:
        _queue_derived_files(Asset.objects.get(pk=asset_id), job.data["source"])
    if placement is None:
        return "skipped: the storage template is disabled"
    return f"{placement.outcome}: {placement.path}" + (f" ({placement.reason})" if placement.reason else "")


@asset_job(SIDECAR.item_job)
def check_sidecar(job, asset_id) -> str:
    """SidecarCheck: a sidecar found, moved or gone is read again by metadata extraction (which re-places
    the original and its sidecar when the storage template is on)."""
    if not companions.sync_sidecar(asset_id):
        return "no sidecar"
    queue_metadata(asset_id, "sidecar")
    return "sidecar found: metadata extraction queued"


@job_handler(STORAGE.queue_all_job)
def migrate_storage(job) -> str:
    refresh_config()
    report = storage.migrate_all()
    if report is None:
        return "skipped: the storage template is disabled, files stay where they are"
    return (f"{report.moved} moved, {report.in_place} already in place, {report.skipped_count} skipped, "
            f"{report.recovered} interrupted move(s) resolved, {report.removed_folders} empty folder(s) removed")


@job_handler(LIBRARY.item_job)
def sync_library(job) -> str:
    library_id = job.data["id"]
    if not libraries.Library.objects.filter(pk=library_id).exists():
        return f"library {library_id} no longer exists"
    # Queued batch by batch as the scan goes: a first import of a large library never holds every id.
    result = libraries.scan_library(library_id, force=bool(job.data.get("force")),
                                    process=lambda asset_ids: queue_metadata_many(asset_ids, "library"))
    return (f"{result.new} new, {result.changed} changed, {result.offline} offline, {result.online} back online, "
            f"{len(result.errors)} error(s)")


@job_handler(*(queue.item_job for queue in QUEUES if queue.item_job), placeholder=True)
def placeholder_media_item(job) -> str:
    """The per-asset job of a media queue whose pipeline does not exist yet (file migration): it reports
    "skipped", never success; registering the real
    handler replaces it."""
    return f"{job.name} {job.data.get('id')}: skipped, the media pipeline does not exist yet"


@job_handler("AssetDeleteCheck")
def purge_expired_trash(job) -> str:
    """Immich's AssetDeleteCheck: assets in the trash longer than Trash days go for good (files of
    external libraries stay on disk)."""
    return f"purged {trash.purge_expired()} asset(s) from the trash"


@job_handler("UserSyncUsage")
def sync_quota_usage(job) -> str:
    return f"quota usage recomputed for {quota.sync_quota_usage()} user(s)"


def queue_library_scan(library):
    """"Scan now" for one library: the job, or None when a scan of it is already waiting or running."""
    return enqueue(LIBRARY.name, LIBRARY.item_job, {"id": str(library.pk)},
                   dedupe_key=f"{LIBRARY.item_job}:{library.pk}")


@receiver(user_purging, dispatch_uid="media_app.remove_user_media")
def remove_user_media(sender, user, **kwargs):
    upload.remove_user_media(user)


# --- Integrity checks (integrityCheck queue, started by their cron schedules) -----------------------------


@job_handler("IntegrityMissingFiles")
def check_missing_files(job) -> str:
    return f"{integrity.check_missing_files()} missing file(s)"


@job_handler("IntegrityUntrackedFiles")
def check_untracked_files(job) -> str:
    return f"{integrity.check_untracked_files()} untracked file(s)"


@job_handler("IntegrityChecksumFiles")
def check_checksums(job) -> str:
    run = integrity.check_checksums()
    return (f"re-hashed {run.checked} original(s), {run.mismatches} mismatch(es); "
            + ("library covered, next run starts over" if run.finished else "next run continues from here"))


# --- Memories (nightly) ------------------------------------------------------------------------------------


@job_handler("MemoryGenerate")
def generate_memories(job) -> str:
    return f"{memories.generate()} on-this-day memory(ies) made"


@job_handler("MemoryCleanup")
def clean_up_memories(job) -> str:
    return f"removed {memories.cleanup()} past memory(ies)"


# --- Real-time HLS (nightly database cleanup) ---------------------------------------------------------------


@job_handler("HlsSessionCleanup")
def clean_up_hls_sessions(job) -> str:
    return f"ended {hls.end_idle_sessions()} idle HLS session(s)"
