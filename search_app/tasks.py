"""Job handlers of the smartSearch, duplicateDetection and ocr queues: thin wrappers around search_app
services. Immich's chain: thumbnails -> SmartSearch and Ocr; SmartSearch of a new upload ->
AssetDetectDuplicates."""

from django.dispatch import receiver

from jobs_app.handlers import job_handler
from jobs_app.queues import QUEUES_BY_NAME
from jobs_app.services import enqueue
from jobs_app.tasks import register_item_source
from media_app.signals import thumbnails_generated
from ml_client import client as ml_client
from settings_app.services import get_config, refresh_config

from .services import duplicates, embeddings, ocr

SMART_SEARCH = QUEUES_BY_NAME["smartSearch"]
DUPLICATES = QUEUES_BY_NAME["duplicateDetection"]
OCR = QUEUES_BY_NAME["ocr"]
NEW_FILE_SOURCES = ("upload", "library", "watch")

register_item_source(SMART_SEARCH.name, embeddings.asset_ids_to_embed)
register_item_source(DUPLICATES.name, duplicates.asset_ids_to_check)
register_item_source(OCR.name, ocr.asset_ids_to_read)


@job_handler(SMART_SEARCH.item_job)
def smart_search(job) -> str:
    refresh_config()  # a model saved just before "Smart Search ALL" applies to it
    try:
        result = embeddings.embed_asset(job.data["id"])
    except embeddings.EmbeddingSkipped as skipped:
        return f"skipped: {skipped}"
    except Exception as error:
        if not isinstance(error, ml_client.MachineLearningUnavailable):
            embeddings.record_failure(job.data["id"], str(error))
        raise
    if job.data.get("source") in NEW_FILE_SOURCES and not duplicates.disabled_reason(get_config()):
        enqueue(DUPLICATES.name, DUPLICATES.item_job, {"id": job.data["id"]})
    return result.describe()


@job_handler(DUPLICATES.item_job)
def detect_duplicates(job) -> str:
    refresh_config()  # a max distance saved just before "Duplicate Detection ALL" applies to it
    try:
        return duplicates.detect(job.data["id"]).describe()
    except duplicates.DuplicatesSkipped as skipped:
        return f"skipped: {skipped}"


@job_handler(OCR.item_job)
def read_text(job) -> str:
    refresh_config()
    try:
        return ocr.read_asset(job.data["id"]).describe()
    except ocr.OcrSkipped as skipped:
        return f"skipped: {skipped}"
    except Exception as error:
        if not isinstance(error, ml_client.MachineLearningUnavailable):
            ocr.record_failure(job.data["id"], str(error))
        raise


@receiver(thumbnails_generated, dispatch_uid="search_app.embed_and_read_new_assets")
def embed_and_read_new_assets(sender, asset, source, **kwargs):
    """Immich: a new file's thumbnails are followed by smart search and OCR (not on "Generate Thumbnails
    ALL")."""
    if source not in NEW_FILE_SOURCES:
        return
    config = get_config()
    if not embeddings.disabled_reason(config):
        enqueue(SMART_SEARCH.name, SMART_SEARCH.item_job, {"id": str(asset.pk), "source": source})
    if not ocr.disabled_reason(config) and not asset.is_video:
        enqueue(OCR.name, OCR.item_job, {"id": str(asset.pk)})
