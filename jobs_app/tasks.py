"""The handlers of the queues' jobs: thin wrappers around services. Imported by JobsAppConfig.ready()."""

from collections.abc import Callable, Iterable

from media_app.services import quota, trash
from users_app import services as users_services

from . import backup, maintenance, services
from .handlers import job_handler
from .queues import QUEUES, QUEUES_BY_NAME

# --- "Queue all" jobs of the media queues -----------------------------------------------------------

# Per queue, a function (force) -> iterable of the ids its per-asset job runs for. The media issues
# register theirs (e.g. a queryset's values_list("id", flat=True).iterator()); until then a queue has
# nothing to fan out to.
ITEM_SOURCES: dict[str, Callable[[bool | None], Iterable]] = {}


def register_item_source(queue_name: str, source: Callable[[bool | None], Iterable]) -> None:
    QUEUES_BY_NAME[queue_name]  # noqa: B018  (unknown queue names fail here, not at run time)
    ITEM_SOURCES[queue_name] = source


def queue_all(job) -> str:
    """Stream the queue's ids into one per-item job each, in batches (Immich's *QueueAll)."""
    queue = QUEUES_BY_NAME[job.queue]
    source = ITEM_SOURCES.get(queue.name)
    ids = source(job.data.get("force")) if source else ()
    count = services.enqueue_stream(queue.name, queue.item_job, ({"id": item} for item in ids), run_id=job.run_id)
    return f"queued {count} {queue.item_job} job(s)"


# The generic "queue all"; an app whose queue-all does more (e.g. facial recognition's nightly check) registers
# its own handler for the name, which replaces this one.
job_handler(*(queue.queue_all_job for queue in QUEUES if queue.item_job), placeholder=True)(queue_all)


@job_handler(*(queue.item_job for queue in QUEUES if queue.item_job), placeholder=True)
def placeholder_media_item(job) -> str:
    """PLACEHOLDER until the media pipeline exists: the per-asset work of a media queue (thumbnails,
    metadata, transcoding, faces, …). The media issues register the real handlers."""
    return f"{job.name} {job.data.get('id')}: skipped, the media pipeline does not exist yet"


# --- Background tasks --------------------------------------------------------------------------------


@job_handler("AssetDeleteCheck")
def purge_expired_trash(job) -> str:
    """Immich's AssetDeleteCheck: assets in the trash longer than Trash days go for good (files of
    external libraries stay on disk)."""
    return f"purged {trash.purge_expired()} asset(s) from the trash"


@job_handler("UserDeleteCheck")
def delete_due_users(job) -> str:
    """Immich's UserDeleteCheck: remove users whose deletion was requested more than the delete delay ago."""
    return f"removed {users_services.delete_due_users()} user(s) whose deletion was due"


@job_handler("UserDelete")
def delete_user(job) -> str:
    """ "Delete immediately" from the console: remove one user whose deletion is (still) scheduled."""
    removed = users_services.purge_scheduled_user(job.data["id"])
    return f"user {job.data['id']}: " + ("removed" if removed else "not scheduled for deletion any more, kept")


@job_handler("UserSyncUsage")
def sync_quota_usage(job) -> str:
    return f"quota usage recomputed for {quota.sync_quota_usage()} user(s)"


@job_handler("VersionCheck", placeholder=True)
def version_check(job) -> str:
    return maintenance.placeholder_version_check()


@job_handler("DatabaseBackup")
def database_backup(job) -> str:
    return f"wrote {backup.backup_database()}"
