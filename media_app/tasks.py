"""Job handlers of the media queues: thin wrappers that load by id and call a service. Imported by
MediaAppConfig.ready(). Immich's chain: upload / library import -> metadata extraction -> thumbnails; each
step queues the next one only for new files (the job's `source`), so "Extract Metadata ALL" does not also
regenerate every thumbnail."""

from django.dispatch import receiver

from jobs_app.handlers import job_handler
from jobs_app.queues import QUEUES_BY_NAME
from jobs_app.services import enqueue, enqueue_stream
from jobs_app.tasks import register_item_source
from settings_app.services import refresh_config
from users_app.services import user_purging

from .models import Asset
from .services import libraries, metadata, thumbnails, upload
from .signals import thumbnails_generated

METADATA = QUEUES_BY_NAME["metadataExtraction"]
THUMBNAILS = QUEUES_BY_NAME["thumbnailGeneration"]
LIBRARY = QUEUES_BY_NAME["library"]

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
register_item_source(LIBRARY.name, _ids(lambda force: libraries.library_ids_to_scan()))


@job_handler(METADATA.item_job)
def extract_metadata(job) -> str:
    asset_id = job.data["id"]
    if not Asset.objects.filter(pk=asset_id).exists():
        return f"asset {asset_id} no longer exists"
    refresh_config()  # e.g. reverse geocoding switched on just before "Extract Metadata ALL"
    asset = metadata.extract_asset(asset_id)
    if job.data.get("source") in CHAINED_SOURCES:
        enqueue(THUMBNAILS.name, THUMBNAILS.item_job, {"id": str(asset.id), "source": job.data["source"]})
    return f"metadata of {asset.original_filename}" + (f" (unreadable: {asset.metadata_error})"
                                                        if asset.metadata_error else "")


@job_handler(THUMBNAILS.item_job)
def generate_thumbnails(job) -> str:
    asset_id = job.data["id"]
    if not Asset.objects.filter(pk=asset_id).exists():
        return f"asset {asset_id} no longer exists"
    # A "Generate Thumbnails ALL" offered right after a save must use the saved sizes, not a cache up to a
    # second old: one small query per job.
    refresh_config()
    asset = thumbnails.generate_asset(asset_id)
    thumbnails_generated.send(sender=Asset, asset=asset, source=job.data.get("source", ""))
    return f"thumbnails of {asset.original_filename}"


@job_handler(LIBRARY.item_job)
def sync_library(job) -> str:
    library_id = job.data["id"]
    if not libraries.Library.objects.filter(pk=library_id).exists():
        return f"library {library_id} no longer exists"
    result = libraries.scan_library(library_id, force=bool(job.data.get("force")))
    queue_metadata_many(result.to_process, "library")
    return (f"{result.new} new, {result.changed} changed, {result.offline} offline, {result.online} back online, "
            f"{len(result.errors)} error(s)")


def queue_library_scan(library):
    """"Scan now" for one library: the job, or None when a scan of it is already waiting or running."""
    return enqueue(LIBRARY.name, LIBRARY.item_job, {"id": str(library.pk)},
                   dedupe_key=f"{LIBRARY.item_job}:{library.pk}")


@receiver(user_purging, dispatch_uid="media_app.remove_user_media")
def remove_user_media(sender, user, **kwargs):
    upload.remove_user_media(user)
