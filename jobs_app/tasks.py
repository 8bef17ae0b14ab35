"""The engine's own job handlers (a queue's "queue all", database dumps), and the
item sources the media queues fan out from. Imported by JobsAppConfig.ready(). The handlers of other
apps' jobs live in those apps (their tasks.py, imported by their AppConfig.ready())."""

from collections.abc import Callable, Iterable

from . import backup, conf, services
from .handlers import job_handler
from .queues import QUEUES, QUEUES_BY_NAME

# --- "Queue all" jobs of the media queues -----------------------------------------------------------

# Per queue, a function (force) -> iterable of the ids its per-asset job runs for. The apps register
# theirs (e.g. a queryset's values_list("id", flat=True).iterator()); without one a queue has nothing to
# fan out to.
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


# The generic "queue all"; an app whose queue-all does more registers its own handler for the name, which
# replaces this one (e.g. facial recognition's nightly check; Storage Template Migration, one job for the
# whole migration as Immich's, which recovers interrupted moves first and removes empty folders last).
job_handler(*(queue.queue_all_job for queue in QUEUES if queue.item_job), placeholder=True)(queue_all)


# --- Background tasks of the engine -------------------------------------------------------------------


@job_handler("JobHistoryCleanup")
def purge_completed_jobs(job) -> str:
    return (f"removed {services.purge_completed_jobs()} completed job(s) finished more than "
            f"{conf.COMPLETED_RETENTION_DAYS:g} day(s) ago")


@job_handler("DatabaseBackup")
def database_backup(job) -> str:
    return f"wrote {backup.backup_database()}"
