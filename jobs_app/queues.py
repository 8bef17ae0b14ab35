"""The queue registry: the one place that names Immich's queues. Workers, the jobs dashboard, the jobs
API and the Job Settings form all derive from QUEUES."""

from dataclasses import dataclass


@dataclass(frozen=True)
class StartMode:
    """One "start" button of a queue, as Immich's QueuePanel: the label and the `force` it sends
    (True = ALL/RESET/SYNC, False = MISSING/DISCOVER/START, None = REFRESH)."""

    label: str
    force: bool | None
    help: str = ""
    confirm: str = ""  # asked before starting, for modes that throw work away


ALL_AND_MISSING = (
    StartMode("All", True, "Process every asset again."),
    StartMode("Missing", False, "Process only assets not done yet."),
)


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
    # The job "start" queues (Immich's *QueueAll job); empty when the queue cannot be started by hand.
    queue_all_job: str = ""
    # The per-asset job a "queue all" job fans out to (media queues).
    item_job: str = ""
    start_modes: tuple[StartMode, ...] = ()
    pausable: bool = True
    # Boolean settings that must all be on for the queue to be started (else the button says Disabled).
    requires: tuple[str, ...] = ()
    retry_delay: int = 30  # seconds before a failed attempt is tried again, doubled per failure

    @property
    def is_fixed(self) -> bool:
        return bool(self.fixed_reason)

    @property
    def setting_path(self) -> str:
        return f"job.{self.name}.concurrency"

    @property
    def can_start(self) -> bool:
        return bool(self.queue_all_job)


NOT_CONCURRENCY_SAFE = "This job is not concurrency-safe."
ML = "machineLearning.enabled"
FACES = (ML, "machineLearning.facialRecognition.enabled")
FACE_RESET_CONFIRM = "Are you sure you want to reprocess all faces? This will also clear named people."

QUEUES: tuple[Queue, ...] = (
    Queue("thumbnailGeneration", "Generate Thumbnails", 3, queue_all_job="AssetGenerateThumbnailsQueueAll",
          item_job="AssetGenerateThumbnails", start_modes=ALL_AND_MISSING),
    Queue("metadataExtraction", "Extract Metadata", 5, queue_all_job="AssetExtractMetadataQueueAll",
          item_job="AssetExtractMetadata", start_modes=ALL_AND_MISSING),
    Queue("library", "External Libraries", 5, queue_all_job="LibraryScanQueueAll", item_job="LibrarySyncFiles",
          start_modes=(StartMode("Rescan", False, "Scan every external library for new and changed files."),)),
    Queue("sidecar", "Sidecar Metadata", 5, queue_all_job="SidecarQueueAll", item_job="SidecarCheck",
          start_modes=(StartMode("Sync", True, "Re-read the sidecar file of every asset."),
                       StartMode("Discover", False, "Look for sidecar files of assets that have none."))),
    Queue("smartSearch", "Smart Search", 2, queue_all_job="SmartSearchQueueAll", item_job="SmartSearch",
          start_modes=ALL_AND_MISSING, requires=(ML, "machineLearning.clip.enabled")),
    Queue("duplicateDetection", "Duplicate Detection", 1, fixed_reason=NOT_CONCURRENCY_SAFE,
          queue_all_job="AssetDetectDuplicatesQueueAll", item_job="AssetDetectDuplicates",
          start_modes=ALL_AND_MISSING,
          requires=(ML, "machineLearning.clip.enabled", "machineLearning.duplicateDetection.enabled")),
    Queue("faceDetection", "Face Detection", 2, queue_all_job="AssetDetectFacesQueueAll", item_job="AssetDetectFaces",
          start_modes=(StartMode("Reset", True, "Delete all detected faces and detect them again.",
                                 FACE_RESET_CONFIRM),
                       StartMode("Refresh", None, "Detect faces of every asset again, keeping matching ones."),
                       StartMode("Missing", False, "Detect faces of assets not processed yet.")),
          requires=FACES),
    Queue(
        "facialRecognition",
        "Facial Recognition",
        1,
        fixed_reason=NOT_CONCURRENCY_SAFE + " Clustering (DBSCAN) is sequential.",
        queue_all_job="FacialRecognitionQueueAll", item_job="FacialRecognition",
        start_modes=(StartMode("Reset", True, "Unassign every face and cluster them again.", FACE_RESET_CONFIRM),
                     StartMode("Missing", False, "Cluster faces that belong to no person yet.")),
        requires=FACES,
    ),
    Queue("ocr", "OCR", 1, queue_all_job="OcrQueueAll", item_job="Ocr", start_modes=ALL_AND_MISSING,
          requires=(ML, "machineLearning.ocr.enabled")),
    Queue("videoConversion", "Transcode Videos", 1, timeout=6 * 3600, queue_all_job="AssetEncodeVideoQueueAll",
          item_job="AssetEncodeVideo", start_modes=ALL_AND_MISSING),
    Queue("storageTemplateMigration", "Storage Template Migration", 1, fixed_reason=NOT_CONCURRENCY_SAFE,
          queue_all_job="StorageTemplateMigration", item_job="StorageTemplateMigrationSingle",
          start_modes=(StartMode("Start", False, "Move every asset to the path the storage template gives."),)),
    Queue("migration", "Migration", 5, queue_all_job="FileMigrationQueueAll", item_job="AssetFileMigration",
          start_modes=(StartMode("Start", False, "Move generated files to their current locations."),)),
    Queue("backgroundTask", "Background Tasks", 5, shown_in_settings=False, pausable=False),
    Queue("notifications", "Notifications", 5, shown_in_settings=False, max_attempts=3),
    Queue("backupDatabase", "Database Backup", 1, fixed_reason=NOT_CONCURRENCY_SAFE, queue_all_job="DatabaseBackup",
          start_modes=(StartMode("Start", False, "Write a database dump now."),)),
    # Immich's legacy search queue: no job uses it, its concurrency key exists for Immich compatibility.
    Queue("search", "Search", 5, shown_in_settings=False),
    Queue("workflow", "Workflows", 5, shown_in_settings=False),
    Queue("editor", "Editor", 2, shown_in_settings=False),
    Queue("integrityCheck", "Integrity Checks", 1, shown_in_settings=False),
)

QUEUES_BY_NAME = {queue.name: queue for queue in QUEUES}

# A generous ceiling: more parallel jobs than this only thrash a host (see Immich's "jobs hang" reports).
MAX_CONCURRENCY = 64

BACKGROUND_TASK_NOT_PAUSABLE = "The BackgroundTask queue cannot be paused"
