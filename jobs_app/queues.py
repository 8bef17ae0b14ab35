"""The queue registry: the one place that names Immich's queues. Workers, the jobs dashboard, the jobs
API and the Job Settings form all derive from QUEUES."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Queue:
    name: str  # Immich's queue name, used in URLs, the API and the config (job.<name>.concurrency)
    title: str
    default_concurrency: int
    # Why the queue cannot run more than one job at once; empty when its concurrency is a setting.
    fixed_reason: str = ""
    timeout: int = 3600  # seconds a single job may run before the worker gives up on it
    max_attempts: int = 1  # Immich's default: a job runs once, failures stay visible until cleared
    shown_in_settings: bool = True  # Immich's Job Settings page shows only some queues

    @property
    def is_fixed(self) -> bool:
        return bool(self.fixed_reason)

    @property
    def setting_path(self) -> str:
        return f"job.{self.name}.concurrency"


NOT_CONCURRENCY_SAFE = "This job is not concurrency-safe."

QUEUES: tuple[Queue, ...] = (
    Queue("thumbnailGeneration", "Generate Thumbnails", 3),
    Queue("metadataExtraction", "Extract Metadata", 5),
    Queue("library", "External Libraries", 5),
    Queue("sidecar", "Sidecar Metadata", 5),
    Queue("smartSearch", "Smart Search", 2),
    Queue("duplicateDetection", "Duplicate Detection", 1, fixed_reason=NOT_CONCURRENCY_SAFE),
    Queue("faceDetection", "Face Detection", 2),
    Queue(
        "facialRecognition",
        "Facial Recognition",
        1,
        fixed_reason=NOT_CONCURRENCY_SAFE + " Clustering (DBSCAN) is sequential.",
    ),
    Queue("videoConversion", "Transcode Videos", 1, timeout=6 * 3600),
    Queue("storageTemplateMigration", "Storage Template Migration", 1, fixed_reason=NOT_CONCURRENCY_SAFE),
    Queue("migration", "Migration", 5),
    Queue("backgroundTask", "Background Tasks", 5, shown_in_settings=False),
    Queue("notifications", "Notifications", 5, shown_in_settings=False),
    Queue("backupDatabase", "Database Backup", 1, fixed_reason=NOT_CONCURRENCY_SAFE),
)

QUEUES_BY_NAME = {queue.name: queue for queue in QUEUES}

# A generous ceiling: more parallel jobs than this only thrash a host (see Immich's "jobs hang" reports).
MAX_CONCURRENCY = 64
