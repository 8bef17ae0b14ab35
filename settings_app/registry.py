"""Every system setting, declared once: its Immich path, kind, default, label and the job a change makes
stale. Models, forms, dashboard pages, the system-config API and the config-file schema derive from
CATEGORIES; adding a setting is one Key here plus `makemigrations`."""

import re
from dataclasses import dataclass, field
from typing import Any

from jobs_app.queues import MAX_CONCURRENCY, QUEUES

from .kinds import Bool, Choice, Css, Float, Int, Kind, MultiChoice, OptionalInt, Secret, Text, UrlList


@dataclass(frozen=True)
class Rerun:
    """A job that must run again for existing assets to reflect a changed key."""

    queue: str
    force: bool | None
    label: str


@dataclass(frozen=True)
class Key:
    path: str  # Immich's config path, e.g. "image.thumbnail.size"
    kind: Kind
    default: Any
    label: str
    help: str = ""
    rerun: Rerun | None = None
    presets: tuple[tuple[str, str], ...] = ()  # (value, label) suggestions, e.g. cron presets
    shown: bool = True  # False: API and config file only, as Immich's page leaves some keys out
    # Path of an on/off key of the same category that must be on for this one to matter (the dashboard
    # shows it disabled, with the reason, while that switch is off). Most keys inherit it from their group.
    depends_on: str = ""

    @property
    def column(self) -> str:
        """Database column and form field name: the path in snake_case."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.path.replace(".", "_")).lower().replace("__", "_")

    @property
    def secret(self) -> bool:
        return isinstance(self.kind, Secret)


@dataclass(frozen=True)
class FixedNote:
    """A read-only line shown among a category's fields (e.g. a queue fixed at concurrency 1)."""

    label: str
    value: Any
    reason: str


@dataclass(frozen=True)
class FieldGroup:
    """A foldable section of a category's page. `paths` are key paths: one ending in "." takes every key
    under it, any other one exactly that key; a key goes to the group of its longest matching path, so a
    key added later under machineLearning.ocr. lands in "OCR" without naming it here.

    `switch`: the on/off key of the group; the group's other keys depend on it. `requires`: what the
    switch itself depends on (e.g. each machine-learning feature on machine learning being on)."""

    title: str
    paths: tuple[str, ...]
    switch: str = ""
    requires: str = ""

    def _claims(self, prefix: str, path: str) -> bool:
        return path == prefix or (prefix.endswith(".") and path.startswith(prefix))

    def match_length(self, path: str) -> int:
        """How specifically this group claims `path` (0: not at all)."""
        return max((len(prefix) for prefix in self.paths if self._claims(prefix, path)), default=0)

    def position(self, path: str) -> int:
        """Where a key of this group is shown: in the order its paths are listed."""
        return next(index for index, prefix in enumerate(self.paths) if self._claims(prefix, path))


@dataclass(frozen=True)
class Category:
    slug: str  # Immich's ?isOpen= key
    title: str
    subtitle: str
    keys: tuple[Key, ...]
    fixed_notes: tuple[FixedNote, ...] = field(default=())
    groups: tuple[FieldGroup, ...] = field(default=())  # none: one plain list of fields

    @property
    def shown_keys(self) -> tuple[Key, ...]:
        """The keys the dashboard page shows and takes from its form."""
        return tuple(key for key in self.keys if key.shown)

    @property
    def model_name(self) -> str:
        return "".join(part.title() for part in self.slug.split("-")) + "Settings"

    @property
    def sections(self) -> tuple[str, ...]:
        """Top-level Immich config sections this category covers (e.g. oauth, passwordLogin)."""
        return tuple(dict.fromkeys(key.path.split(".")[0] for key in self.keys))

    def group_of(self, key: Key) -> FieldGroup | None:
        """The group a key is shown in: the one naming its path most specifically (the first on a tie)."""
        best = max(self.groups, key=lambda group: group.match_length(key.path), default=None)
        return best if best is not None and best.match_length(key.path) else None

    def grouped_keys(self) -> list[tuple[FieldGroup | None, tuple[Key, ...]]]:
        """The shown keys by group, in the groups' order (keys no group claims last, untitled); groups
        without keys are left out."""
        members = {group: tuple(key for key in self.shown_keys if self.group_of(key) is group)
                   for group in (*self.groups, None)}
        members = {group: tuple(sorted(keys, key=lambda key: group.position(key.path))) if group else keys
                   for group, keys in members.items()}
        return [(group, keys) for group, keys in members.items() if keys]

    def dependency_of(self, key: Key) -> Key | None:
        """The on/off key that must be on for `key` to matter: its own depends_on, else its group's switch
        (for the switch itself: what the group requires). Paths of keys not declared are ignored, so a
        group may name a switch another change adds later."""
        group = self.group_of(key)
        path = key.depends_on
        if not path and group is not None:
            path = group.requires if key.path == group.switch else group.switch
        return next((other for other in self.keys if other.path == path and other is not key), None)

    def blocking_switch(self, key: Key, values: dict) -> Key | None:
        """The nearest switch in `key`'s chain of dependencies that is off in `values` (by path), if any:
        while it is off, `key` is shown disabled and not taken from the dashboard's form."""
        dependency, seen = self.dependency_of(key), {key.path}
        while dependency is not None and dependency.path not in seen:
            if not values.get(dependency.path):
                return dependency
            seen.add(dependency.path)
            dependency = self.dependency_of(dependency)
        return None


THUMBNAILS_ALL = Rerun("thumbnailGeneration", True, "Generate Thumbnails — ALL")
FACE_DETECTION_ALL = Rerun("faceDetection", True, "Face Detection — ALL (reset)")
FACE_DETECTION_REFRESH = Rerun("faceDetection", None, "Face Detection — REFRESH")
FACIAL_RECOGNITION_ALL = Rerun("facialRecognition", True, "Facial Recognition — ALL (reset)")
# The face model the ML service of this repository ships (ml_service.faces.BUNDLED_FACE_MODEL); the
# server only talks to the service over HTTP, so the name is repeated here rather than imported.
BUNDLED_FACE_MODEL = "bundled-mtcnn-facenet"
SMART_SEARCH_ALL = Rerun("smartSearch", True, "Smart Search — ALL")
DUPLICATES_ALL = Rerun("duplicateDetection", True, "Duplicate Detection — ALL")
OCR_ALL = Rerun("ocr", True, "OCR — ALL")
METADATA_ALL = Rerun("metadataExtraction", True, "Extract Metadata — ALL")
TRANSCODE_ALL = Rerun("videoConversion", True, "Transcode Videos — ALL")
STORAGE_MIGRATION = Rerun("storageTemplateMigration", False, "Storage Template Migration")

CRON_PRESETS = (
    ("0 0 * * *", "At midnight"),
    ("0 2 * * *", "At 02:00"),
    ("0 13 * * *", "At 13:00"),
    ("0 */6 * * *", "Every 6 hours"),
)
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                      "HS256", "HS384", "HS512"]
IMAGE_FORMATS = Choice([("jpeg", "JPEG"), ("webp", "WebP")])
VIDEO_CODECS = [("h264", "H.264"), ("hevc", "HEVC"), ("vp9", "VP9"), ("av1", "AV1")]
AUDIO_CODECS = [("aac", "AAC"), ("mp3", "MP3"), ("opus", "Opus"), ("pcm_s16le", "PCM 16-bit")]
# Immich's CLIP_MODEL_INFO (server/src/constants.ts): model name -> embedding dimension.
CLIP_MODELS = {
    "RN101__openai": 512, "RN101__yfcc15m": 512, "RN50__cc12m": 1024, "RN50__openai": 1024,
    "RN50__yfcc15m": 1024, "RN50x16__openai": 768, "RN50x4__openai": 640, "RN50x64__openai": 1024,
    "ViT-B-16__laion400m_e31": 512, "ViT-B-16__laion400m_e32": 512, "ViT-B-16__openai": 512,
    "ViT-B-16-plus-240__laion400m_e31": 640, "ViT-B-16-plus-240__laion400m_e32": 640,
    "ViT-B-32__laion2b_e16": 512, "ViT-B-32__laion2b-s34b-b79k": 512, "ViT-B-32__laion400m_e31": 512,
    "ViT-B-32__laion400m_e32": 512, "ViT-B-32__openai": 512, "ViT-H-14__laion2b-s32b-b79k": 1024,
    "ViT-H-14-378-quickgelu__dfn5b": 1024, "ViT-H-14-quickgelu__dfn5b": 1024,
    "ViT-L-14__laion2b-s32b-b82k": 768, "ViT-L-14__laion400m_e31": 768, "ViT-L-14__laion400m_e32": 768,
    "ViT-L-14__openai": 768, "ViT-L-14-336__openai": 768, "ViT-L-14-quickgelu__dfn2b": 768,
    "ViT-g-14__laion2b-s12b-b42k": 1024, "ViT-B-16-SigLIP__webli": 768, "ViT-B-16-SigLIP-256__webli": 768,
    "ViT-B-16-SigLIP-384__webli": 768, "ViT-B-16-SigLIP-512__webli": 768,
    "ViT-B-16-SigLIP-i18n-256__webli": 768, "ViT-L-16-SigLIP-256__webli": 1024,
    "ViT-L-16-SigLIP-384__webli": 1024, "ViT-SO400M-14-SigLIP-384__webli": 1152,
    "ViT-B-16-SigLIP2__webli": 768, "ViT-B-32-SigLIP2-256__webli": 768, "ViT-L-16-SigLIP2-256__webli": 1024,
    "ViT-L-16-SigLIP2-384__webli": 1024, "ViT-SO400M-14-SigLIP2__webli": 1152,
    "ViT-SO400M-16-SigLIP2-384__webli": 1152, "ViT-gopt-16-SigLIP2-256__webli": 1536,
    "ViT-gopt-16-SigLIP2-384__webli": 1536, "nllb-clip-base-siglip__mrl": 768, "nllb-clip-base-siglip__v1": 768,
    "nllb-clip-large-siglip__mrl": 1152, "nllb-clip-large-siglip__v1": 1152,
    "XLM-Roberta-Large-Vit-B-16Plus": 640, "XLM-Roberta-Large-Vit-B-32": 512, "XLM-Roberta-Large-Vit-L-14": 768,
    "LABSE-Vit-L-14": 768, "XLM-Roberta-Large-ViT-H-14__frozen_laion5b_s13b_b90k": 1024,
}

# The CLIP model list, smallest embeddings first: models of one size are interchangeable in the database.
CLIP_MODEL_CHOICE = Choice(sorted(CLIP_MODELS, key=lambda name: (CLIP_MODELS[name], name.lower())),
                           group_of={name: f"{size}-dimensional embeddings" for name, size in CLIP_MODELS.items()})
IMMICH_FACE_MODELS = ["antelopev2", "buffalo_l", "buffalo_m", "buffalo_s"]
FACE_MODEL_CHOICE = Choice(
    [(BUNDLED_FACE_MODEL, "Bundled (MTCNN + FaceNet, works offline)"), *IMMICH_FACE_MODELS],
    group_of={BUNDLED_FACE_MODEL: "Bundled with this server",
              **{name: "Immich's models (an Immich ML server, or their files in the model cache)"
                 for name in IMMICH_FACE_MODELS}},
)


# Immich's OCR model names (machine-learning constants), the UI's list plus CH__.
OCR_MODELS = [("PP-OCRv5_server", "PP-OCRv5 server"), ("PP-OCRv5_mobile", "PP-OCRv5 mobile"),
              ("CH__PP-OCRv5_mobile", "Chinese"), ("EN__PP-OCRv5_mobile", "English"),
              ("EL__PP-OCRv5_mobile", "Greek"), ("KOREAN__PP-OCRv5_mobile", "Korean"),
              ("LATIN__PP-OCRv5_mobile", "Latin"), ("ESLAV__PP-OCRv5_mobile", "East Slavic"),
              ("TH__PP-OCRv5_mobile", "Thai")]


def _image_keys() -> tuple[Key, ...]:
    keys = []
    for name, title, fmt, size in (("thumbnail", "Thumbnail", "webp", 250), ("preview", "Preview", "jpeg", 1440)):
        keys += [
            Key(f"image.{name}.format", IMAGE_FORMATS, fmt, f"{title} format",
                "WebP makes smaller files than JPEG, but is slower to encode.", THUMBNAILS_ALL),
            Key(f"image.{name}.size", Int(1, 16384, "px"), size, f"{title} resolution",
                "Length of the shorter side. Larger sizes keep more detail but take longer to make, produce "
                "larger files and slow the app down. Images are never upscaled.", THUMBNAILS_ALL),
            Key(f"image.{name}.quality", Int(1, 100), 80, f"{title} quality",
                "Image quality from 1 to 100. Higher is better but makes larger files.", THUMBNAILS_ALL),
            Key(f"image.{name}.progressive", Bool(), False, f"Progressive {title.lower()}",
                "Encode JPEG images progressively, so they display gradually while loading.", THUMBNAILS_ALL),
        ]
    keys += [
        Key("image.fullsize.enabled", Bool(), False, "Enable full-size image generation",
            "Make a full-size, browser-friendly copy of originals browsers cannot show (HEIC, RAW).",
            THUMBNAILS_ALL),
        Key("image.fullsize.format", IMAGE_FORMATS, "jpeg", "Full-size format", "", THUMBNAILS_ALL),
        Key("image.fullsize.quality", Int(1, 100), 80, "Full-size quality", "", THUMBNAILS_ALL),
        Key("image.fullsize.progressive", Bool(), False, "Progressive full-size", "", THUMBNAILS_ALL),
        Key("image.colorspace", Choice([("p3", "Display P3"), ("srgb", "sRGB")]), "p3", "Prefer wide gamut",
            "Display P3 keeps the colours of wide-gamut images; sRGB converts everything to sRGB.",
            THUMBNAILS_ALL),
        Key("image.extractEmbedded", Bool(), False, "Prefer embedded preview",
            "Use the preview embedded in RAW photos as the source of thumbnails when available.", THUMBNAILS_ALL),
    ]
    return tuple(keys)


def _integrity_keys() -> tuple[Key, ...]:
    keys = []
    for name, title, about in (
        ("missingFiles", "Missing files", "Look for assets whose original, preview, thumbnail or video is gone."),
        ("untrackedFiles", "Untracked files", "Look for files in the data folder that nothing refers to."),
        ("checksumFiles", "Checksums", "Re-hash originals and compare them with their stored SHA1 checksum."),
    ):
        keys += [
            Key(f"integrityChecks.{name}.enabled", Bool(), True, f"{title} check", about),
            Key(f"integrityChecks.{name}.cronExpression", Text(100, fmt="cron"), "0 03 * * *", f"{title} schedule",
                "Cron expression, in the server's timezone.", presets=CRON_PRESETS),
        ]
    keys += [
        Key("integrityChecks.checksumFiles.timeLimit", Int(0, unit="ms"), 3_600_000, "Checksum time limit",
            "The checksum check stops after this long and goes on from there at its next run."),
        Key("integrityChecks.checksumFiles.percentageLimit", Float(0, 1, 0.01), 1, "Checksum share per run",
            "At most this share of the assets (0 to 1) is re-hashed per run; the next run continues after it."),
    ]
    return tuple(keys)


def _job_category() -> Category:
    keys = tuple(
        Key(queue.setting_path, Int(1, MAX_CONCURRENCY), queue.default_concurrency,
            f"{queue.title} concurrency", "How many jobs of this queue may run at once.",
            shown=queue.shown_in_settings)
        for queue in QUEUES
        if not queue.is_fixed
    )
    notes = tuple(
        FixedNote(f"{queue.title} concurrency", 1, queue.fixed_reason) for queue in QUEUES if queue.is_fixed
    )
    return Category("job", "Job Settings", "Manage job concurrency", keys, notes)


def _ffmpeg_keys() -> tuple[Key, ...]:
    presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
    return tuple(
        Key(path, kind, default, label, help_text, TRANSCODE_ALL)
        for path, kind, default, label, help_text in (
            ("ffmpeg.crf", Int(0, 51), 23, "Constant rate factor (-crf)",
             "Video quality: lower is better quality and larger files. 0 to 51."),
            ("ffmpeg.threads", Int(0), 0, "Threads", "0 lets ffmpeg decide; 1 encodes single-threaded."),
            ("ffmpeg.preset", Choice(presets), "ultrafast", "Preset (-preset)",
             "Compression speed. Slower presets make smaller files at the same quality."),
            ("ffmpeg.targetVideoCodec", Choice(VIDEO_CODECS), "h264", "Video codec",
             "The codec of transcoded videos. Always accepted."),
            ("ffmpeg.acceptedVideoCodecs", MultiChoice(VIDEO_CODECS), ["h264"], "Accepted video codecs",
             "Videos in these codecs are not transcoded (unless the policy says otherwise)."),
            ("ffmpeg.targetAudioCodec", Choice(AUDIO_CODECS), "aac", "Audio codec",
             "The codec of transcoded audio. Always accepted."),
            ("ffmpeg.acceptedAudioCodecs", MultiChoice(AUDIO_CODECS), ["aac", "mp3", "opus"],
             "Accepted audio codecs", ""),
            ("ffmpeg.acceptedContainers", MultiChoice(["mov", "mp4", "ogg", "webm"]),
             ["mov", "ogg", "webm"], "Accepted containers",
             "Other containers (MP4 is always accepted) are remuxed to MP4. MP4 files are detected as mov."),
            ("ffmpeg.targetResolution", Choice([("2160", "4K"), ("1440", "1440p"), ("1080", "1080p"),
                                                ("720", "720p"), ("480", "480p"),
                                                ("original", "Original")]),
             "720", "Target resolution", "Shorter side of transcoded videos."),
            ("ffmpeg.maxBitrate", Text(20, fmt="bitrate"), "0", "Maximum bitrate",
             "0 disables the limit. A bare number is kbit/s; k and M suffixes are accepted (e.g. 2500k, 5M)."),
            ("ffmpeg.bframes", Int(-1, 16), -1, "Maximum B-frames", "-1 picks automatically; 0 disables."),
            ("ffmpeg.refs", Int(0, 6), 0, "Reference frames", "0 picks automatically."),
            ("ffmpeg.gopSize", Int(0), 0, "Maximum GOP size", "Frames between keyframes; 0 picks automatically."),
            ("ffmpeg.temporalAQ", Bool(), False, "Temporal AQ", "NVENC only."),
            ("ffmpeg.cqMode", Choice(["auto", "cqp", "icq"]), "auto", "Constant quality mode",
             "QSV and VAAPI only."),
            ("ffmpeg.twoPass", Bool(), False, "Two-pass encoding",
             "Software encoders only; H.264/HEVC need a maximum bitrate."),
            ("ffmpeg.preferredHwDevice", Text(200), "auto", "Preferred hardware device",
             "VAAPI/QSV /dev/dri node, or auto."),
            ("ffmpeg.transcode", Choice([("all", "All videos"), ("optimal", "Optimal"),
                                         ("bitrate", "Over bitrate"), ("required", "Required only"),
                                         ("disabled", "Disabled")]),
             "required", "Transcode policy", "Which videos are transcoded."),
            ("ffmpeg.accel", Choice(["nvenc", "qsv", "vaapi", "rkmpp", "disabled"]), "disabled",
             "Hardware acceleration", "Falls back to software encoding when the hardware fails."),
            ("ffmpeg.accelDecode", Bool(), True, "Hardware decoding", ""),
            ("ffmpeg.tonemap", Choice(["hable", "mobius", "reinhard", "disabled"]), "hable",
             "Tone-mapping", "How HDR video is mapped to SDR."),
            ("ffmpeg.realtime.enabled", Bool(), False, "Real-time transcoding (alpha)", ""),
            ("ffmpeg.realtime.videoCodecs", MultiChoice([("h264", "H.264"), ("hevc", "HEVC")]),
             ["h264", "hevc"], "Real-time video codecs", ""),
            ("ffmpeg.realtime.resolutions", MultiChoice(["480", "720", "1080", "1440", "2160"], numeric=True),
             [480, 720, 1080], "Real-time resolutions", ""),
        )
    )


CATEGORIES: tuple[Category, ...] = (
    Category("authentication", "Authentication Settings", "Manage password and OAuth login settings", (
        Key("oauth.enabled", Bool(), False, "Enable OAuth login", "Login with an OpenID Connect provider."),
        Key("oauth.issuerUrl", Text(2048, fmt="url?"), "", "Issuer URL",
            "The provider's issuer; its /.well-known/openid-configuration is fetched."),
        Key("oauth.clientId", Text(500), "", "Client ID"),
        Key("oauth.clientSecret", Secret(500), "", "Client secret",
            "Leave empty to keep the stored secret. Optional: a public client uses PKCE."),
        Key("oauth.tokenEndpointAuthMethod", Choice(["client_secret_post", "client_secret_basic"]),
            "client_secret_post", "Token endpoint auth method"),
        Key("oauth.scope", Text(500, fmt="scope", blank=False), "openid email profile", "Scope"),
        Key("oauth.prompt", Text(100), "", "Prompt", "e.g. select_account, login, consent; empty for none."),
        Key("oauth.signingAlgorithm", Choice(SIGNING_ALGORITHMS), "RS256", "ID token signing algorithm"),
        Key("oauth.profileSigningAlgorithm", Choice(["none"] + SIGNING_ALGORITHMS), "none",
            "Profile signing algorithm", "none = unsigned userinfo JSON."),
        Key("oauth.timeout", Int(1, 600000, "ms"), 30000, "Request timeout", "HTTP timeout in milliseconds."),
        Key("oauth.allowInsecureRequests", Bool(), False, "Allow insecure requests",
            "Disables TLS certificate checks towards the provider: only for testing, it allows MITM attacks."),
        Key("oauth.autoRegister", Bool(), True, "Auto register", "Create users on their first OAuth login."),
        Key("oauth.autoLaunch", Bool(), False, "Auto launch",
            "Start the OAuth flow on the login page; /login?autoLaunch=0 bypasses it."),
        Key("oauth.buttonText", Text(100), "Login with OAuth", "Button text"),
        Key("oauth.defaultStorageQuota", OptionalInt(0, unit="GiB"), None, "Default storage quota (GiB)",
            "Used when the quota claim is absent; empty means unlimited."),
        Key("oauth.storageLabelClaim", Text(200), "preferred_username", "Storage label claim"),
        Key("oauth.storageQuotaClaim", Text(200), "immich_quota", "Storage quota claim"),
        Key("oauth.roleClaim", Text(200), "immich_role", "Role claim",
            "Claim whose value admin or user sets the role at every login."),
        Key("oauth.mobileOverrideEnabled", Bool(), False, "Override mobile redirect URI"),
        Key("oauth.mobileRedirectUri", Text(2048), "", "Mobile redirect URI",
            "Required (a URL) when the override is enabled.", depends_on="oauth.mobileOverrideEnabled"),
        Key("oauth.endSessionEndpoint", Text(2048, fmt="url?"), "", "End session endpoint",
            "RP-initiated logout; empty takes it from discovery."),
        Key("passwordLogin.enabled", Bool(), True, "Enable password login",
            "Login with email and password. Re-enable from the shell with manage.py enable_password_login."),
    ), groups=(
        FieldGroup("OAuth", ("oauth.",), switch="oauth.enabled"),
        FieldGroup("Password login", ("passwordLogin.",)),
    )),
    Category("backup", "Database Dump Settings", "Manage database dump settings", (
        Key("backup.database.enabled", Bool(), True, "Enable database dumps"),
        Key("backup.database.cronExpression", Text(100, fmt="cron"), "0 02 * * *", "Schedule",
            "When dumps are made, in the server's timezone.", presets=CRON_PRESETS,
            depends_on="backup.database.enabled"),
        Key("backup.database.keepLastAmount", Int(1, 10000), 14, "Dumps to keep",
            "Older dumps are deleted after each new one.", depends_on="backup.database.enabled"),
    )),
    Category("image", "Image Settings", "Manage the quality and resolution of generated images", _image_keys(),
             groups=(FieldGroup("Thumbnail", ("image.thumbnail.",)), FieldGroup("Preview", ("image.preview.",)),
                     FieldGroup("Full-size image", ("image.fullsize.",), switch="image.fullsize.enabled"),
                     FieldGroup("Colour and source", ("image.",)))),
    Category("integrity-checks", "Integrity Checks", "Manage the checks of the files in the data folder",
             _integrity_keys(), groups=tuple(
                 FieldGroup(title, (f"integrityChecks.{name}.",), switch=f"integrityChecks.{name}.enabled")
                 for name, title in (("missingFiles", "Missing files"), ("untrackedFiles", "Untracked files"),
                                     ("checksumFiles", "Checksums")))),
    _job_category(),
    Category("external-library", "External Library", "Manage external library settings", (
        Key("library.scan.enabled", Bool(), True, "Periodic scanning", "Scan all external libraries on a schedule."),
        Key("library.scan.cronExpression", Text(100, fmt="cron"), "0 0 * * *", "Scanning interval",
            "Cron expression, in the server's timezone.", presets=CRON_PRESETS, depends_on="library.scan.enabled"),
        Key("library.watch.enabled", Bool(), False, "Watch for file changes [EXPERIMENTAL]",
            "Import changed files without a rescan. Operating-system events do not arrive for network mounts."),
        Key("library.watch.usePolling", Bool(), False, "Use polling (network mounts)",
            "OS file events do not arrive for network mounts (NFS, SMB): poll the folders instead (more disk reads).",
            depends_on="library.watch.enabled"),
    )),
    Category("logging", "Logging", "Manage log settings", (
        Key("logging.enabled", Bool(), True, "Enable logging"),
        Key("logging.level", Choice(["verbose", "debug", "log", "warn", "error", "fatal"]), "log", "Level",
            "Applies to every process (web and job workers) within seconds.", depends_on="logging.enabled"),
    )),
    Category("machine-learning", "Machine Learning Settings", "Manage machine learning features and settings", (
        Key("machineLearning.enabled", Bool(), True, "Enable machine learning",
            "Off disables smart search, facial recognition and duplicate detection."),
        Key("machineLearning.urls", UrlList(1), ["http://127.0.0.1:3003"], "URLs",
            "Machine learning servers, tried in order; healthy ones first. `make run` starts one on port 3003 "
            "of this machine (Immich's default: http://immich-machine-learning:3003)."),
        Key("machineLearning.availabilityChecks.enabled", Bool(), True, "Availability checks",
            "Ping each URL periodically and skip the ones that do not answer."),
        Key("machineLearning.availabilityChecks.timeout", Int(1, 600000, "ms"), 2000, "Check timeout",
            depends_on="machineLearning.availabilityChecks.enabled"),
        Key("machineLearning.availabilityChecks.interval", Int(1000, 86400000, "ms"), 30000, "Check interval",
            depends_on="machineLearning.availabilityChecks.enabled"),
        Key("machineLearning.clip.enabled", Bool(), True, "Enable smart search"),
        Key("machineLearning.clip.modelName", CLIP_MODEL_CHOICE, "ViT-B-32__openai", "CLIP model",
            "Re-run Smart Search for all images after changing the model. Search keeps using the old model's "
            "embeddings until every image has one of the new model; then the old ones are deleted.",
            SMART_SEARCH_ALL),
        Key("machineLearning.duplicateDetection.enabled", Bool(), True, "Enable duplicate detection",
            "Requires smart search. Exact duplicates are always refused at upload."),
        Key("machineLearning.duplicateDetection.maxDistance", Float(0.001, 0.1, 0.001), 0.01,
            "Maximum detection distance", "Cosine distance under which two images count as duplicates.",
            DUPLICATES_ALL),
        Key("machineLearning.facialRecognition.enabled", Bool(), True, "Enable facial recognition"),
        Key("machineLearning.facialRecognition.modelName",
            FACE_MODEL_CHOICE, BUNDLED_FACE_MODEL, "Facial recognition model",
            "You must re-run Face Detection for all images after changing the model. Immich's models (buffalo_l, "
            "…) need an Immich ML server at the URL, or their files in the ML service's model cache folder.",
            FACE_DETECTION_ALL),
        Key("machineLearning.facialRecognition.minScore", Float(0.1, 1), 0.7, "Min detection score",
            "Faces detected with a lower confidence are ignored. Refresh removes faces now below it.",
            FACE_DETECTION_REFRESH),
        Key("machineLearning.facialRecognition.maxDistance", Float(0.1, 2), 0.5, "Max recognition distance",
            "Two faces closer than this are the same person.", FACIAL_RECOGNITION_ALL),
        Key("machineLearning.facialRecognition.minFaces", Int(1), 3, "Min recognized faces",
            "Fewer faces than this do not make a person.", FACIAL_RECOGNITION_ALL),
        Key("machineLearning.ocr.enabled", Bool(), True, "Enable OCR",
            "Read printed text in images, searchable from the search page."),
        Key("machineLearning.ocr.modelName", Choice(OCR_MODELS), "PP-OCRv5_mobile", "OCR model",
            "Models are language-specific. This server's ML service reads every one with the PP-OCR models "
            "bundled in rapidocr-onnxruntime. Re-run OCR for all images after changing it.", OCR_ALL),
        Key("machineLearning.ocr.minDetectionScore", Float(0.1, 1), 0.5, "Min detection score",
            "Text boxes detected with a lower confidence are ignored.", OCR_ALL),
        Key("machineLearning.ocr.minRecognitionScore", Float(0.1, 1), 0.8, "Min recognition score",
            "Text recognised with a lower confidence is ignored.", OCR_ALL),
        Key("machineLearning.ocr.maxResolution", Int(1, None, "px"), 736, "Maximum resolution",
            "Previews larger than this are shrunk first: higher reads smaller text but takes longer.", OCR_ALL),
    ), groups=(
        FieldGroup("General", ("machineLearning.",), switch="machineLearning.enabled"),
        FieldGroup("Smart search", ("machineLearning.clip.",), switch="machineLearning.clip.enabled",
                   requires="machineLearning.enabled"),
        FieldGroup("Duplicate detection", ("machineLearning.duplicateDetection.",),
                   switch="machineLearning.duplicateDetection.enabled", requires="machineLearning.clip.enabled"),
        FieldGroup("Facial recognition", ("machineLearning.facialRecognition.",),
                   switch="machineLearning.facialRecognition.enabled", requires="machineLearning.enabled"),
        FieldGroup("OCR", ("machineLearning.ocr.",), switch="machineLearning.ocr.enabled",
                   requires="machineLearning.enabled"),
    )),
    Category("location", "Map & GPS Settings", "Manage map related features and settings", (
        Key("map.enabled", Bool(), True, "Enable map features"),
        Key("map.lightStyle", Text(2048, fmt="url", blank=False),
            "https://tiles.immich.cloud/v1/style/light.json", "Light style", "URL of a MapLibre style.json."),
        Key("map.darkStyle", Text(2048, fmt="url", blank=False),
            "https://tiles.immich.cloud/v1/style/dark.json", "Dark style", "URL of a MapLibre style.json."),
        Key("reverseGeocoding.enabled", Bool(), True, "Enable reverse geocoding",
            "Look up city, state and country of geotagged assets (offline GeoNames data).", METADATA_ALL),
    ), groups=(FieldGroup("Map", ("map.",), switch="map.enabled"),
               FieldGroup("Reverse geocoding", ("reverseGeocoding.",)))),
    Category("metadata", "Metadata Settings", "Manage metadata settings", (
        Key("metadata.faces.import", Bool(), False, "Import faces",
            "Import face regions from EXIF and XMP sidecars.", METADATA_ALL),
    )),
    Category("nightly-tasks", "Nightly Tasks Settings", "Manage nightly tasks", (
        Key("nightlyTasks.startTime", Text(5, fmt="time"), "00:00", "Start time",
            "When nightly tasks start, in the server's timezone."),
        Key("nightlyTasks.databaseCleanup", Bool(), True, "Clean up the database",
            "Purge expired trash, delete users whose deletion is due, remove people without faces."),
        Key("nightlyTasks.missingThumbnails", Bool(), True, "Generate missing thumbnails"),
        Key("nightlyTasks.clusterNewFaces", Bool(), True, "Cluster new faces"),
        Key("nightlyTasks.generateMemories", Bool(), True, "Generate memories",
            "Make “on this day” memories of photos taken on this calendar day in earlier years."),
        Key("nightlyTasks.syncQuotaUsage", Bool(), True, "Sync quota usage"),
    )),
    Category("notifications", "Notification Settings", "Manage notification settings, including email", (
        Key("notifications.smtp.enabled", Bool(), False, "Enable email notifications",
            "Saving checks the connection to the SMTP server."),
        Key("notifications.smtp.from", Text(500), "", "From address",
            "e.g. Photo Server <noreply@example.com>"),
        Key("notifications.smtp.replyTo", Text(500), "", "Reply-to address", "Empty uses the from address."),
        Key("notifications.smtp.transport.host", Text(500), "", "SMTP host"),
        Key("notifications.smtp.transport.port", Int(0, 65535), 587, "SMTP port"),
        Key("notifications.smtp.transport.secure", Bool(), False, "Use TLS (SMTPS)"),
        Key("notifications.smtp.transport.ignoreCert", Bool(), False, "Ignore certificate errors"),
        Key("notifications.smtp.transport.username", Text(500), "", "SMTP username"),
        Key("notifications.smtp.transport.password", Secret(500), "", "SMTP password",
            "Leave empty to keep the stored password."),
        Key("templates.email.welcomeTemplate", Text(65536, multiline=True), "", "Welcome email template",
            "Tags: {username}, {password}, {displayName}, {baseUrl}. Empty uses the built-in template."),
        Key("templates.email.albumInviteTemplate", Text(65536, multiline=True), "", "Album invite template",
            "Tags: {senderName}, {recipientName}, {albumId}, {albumName}, {baseUrl}."),
        Key("templates.email.albumUpdateTemplate", Text(65536, multiline=True), "", "Album update template",
            "Tags: {recipientName}, {albumId}, {albumName}, {baseUrl}."),
    ), groups=(FieldGroup("Email", ("notifications.smtp.",), switch="notifications.smtp.enabled"),
               FieldGroup("Email templates", ("templates.email.",)))),
    Category("server", "Server Settings", "Manage server settings", (
        Key("server.externalDomain", Text(2048, fmt="domain?"), "", "External domain",
            "Public address used in shared links and emails; empty uses the request's host."),
        Key("server.loginPageMessage", Text(2000, multiline=True), "", "Welcome message",
            "Shown (as plain text) on the login page."),
        Key("server.publicUsers", Bool(), True, "Public users", "List all users to every user in sharing pickers."),
    )),
    Category("storage-template", "Storage Template Settings", "Manage the folder structure of uploaded assets", (
        Key("storageTemplate.enabled", Bool(), False, "Enable storage template engine", "", STORAGE_MIGRATION),
        Key("storageTemplate.hashVerificationEnabled", Bool(), True, "Hash verification",
            "Re-check SHA1 checksums after moving files across devices."),
        Key("storageTemplate.template", Text(1000, fmt="template", blank=False),
            "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}", "Template",
            "Applies to new assets; run Storage Template Migration for existing ones.", STORAGE_MIGRATION),
    )),
    Category("theme", "Theme Settings", "Manage customization of the web interface", (
        Key("theme.customCss", Css(), "", "Custom CSS",
            "Applied to every page, login included."),
    )),
    Category("trash", "Trash Settings", "Manage trash settings", (
        Key("trash.enabled", Bool(), True, "Enable trash",
            "When off, deleting an asset removes it permanently."),
        Key("trash.days", Int(0, 36500, "days"), 30, "Days in trash",
            "Trashed assets are deleted permanently after this many days.", depends_on="trash.enabled"),
    )),
    Category("user-settings", "User Settings", "Manage user settings", (
        Key("user.deleteDelay", Int(1, 36500, "days"), 7, "Delete delay",
            "Days after which a deleted user's account and assets are removed permanently. Changes apply "
            "at the next nightly run."),
    )),
    Category("version-check", "Version Check", "Enable or disable the new version notification", (
        Key("newVersionCheck.enabled", Bool(), True, "Enable version check"),
        Key("newVersionCheck.channel", Choice([("stable", "Stable"), ("releaseCandidate", "Release candidate")]),
            "stable", "Release channel", depends_on="newVersionCheck.enabled"),
    )),
    Category("video-transcoding", "Video Transcoding Settings",
             "Manage the resolution and encoding information of video files", _ffmpeg_keys(), groups=(
                 FieldGroup("Transcoding policy", ("ffmpeg.transcode", "ffmpeg.acceptedVideoCodecs",
                                                   "ffmpeg.acceptedAudioCodecs", "ffmpeg.acceptedContainers")),
                 FieldGroup("Encoding options", ("ffmpeg.",)),
                 FieldGroup("Hardware acceleration", ("ffmpeg.accel", "ffmpeg.accelDecode",
                                                      "ffmpeg.preferredHwDevice")),
                 FieldGroup("Advanced", ("ffmpeg.tonemap", "ffmpeg.twoPass", "ffmpeg.cqMode", "ffmpeg.temporalAQ",
                                         "ffmpeg.gopSize", "ffmpeg.refs", "ffmpeg.bframes")),
                 FieldGroup("Real-time transcoding", ("ffmpeg.realtime.",), switch="ffmpeg.realtime.enabled"),
             )),
)

CATEGORIES_BY_SLUG = {category.slug: category for category in CATEGORIES}
KEYS_BY_PATH = {key.path: key for category in CATEGORIES for key in category.keys}
CATEGORY_OF_PATH = {key.path: category for category in CATEGORIES for key in category.keys}
