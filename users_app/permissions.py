"""API key permissions, Immich's names (its Permission enum; tests/api_app/test_sdk_schema.py keeps the list
equal to the pinned @immich/sdk's). A key holds a list of them; "all" grants every one. Endpoints name the one
they need (api_app.auth.signed_in / admin), and a key may only hand out permissions it holds itself."""

ALL = "all"
# What an endpoint open to every key names (a key reading itself).
ANY_KEY = ""

PERMISSIONS = (
    "all", "activity.create", "activity.read", "activity.update", "activity.delete", "activity.statistics",
    "apiKey.create", "apiKey.read", "apiKey.update", "apiKey.delete", "apiKey.rotate", "asset.read", "asset.update",
    "asset.delete", "asset.statistics", "asset.share", "asset.view", "asset.download", "asset.upload", "asset.copy",
    "asset.derive", "assetFile.read", "assetFile.delete", "assetFile.download", "asset.edit.get",
    "asset.edit.create", "asset.edit.delete", "album.create", "album.read", "album.update", "album.delete",
    "album.statistics", "album.share", "album.download", "albumAsset.create", "albumAsset.delete",
    "albumUser.create", "albumUser.update", "albumUser.delete", "auth.changePassword", "authDevice.delete",
    "archive.read", "backup.list", "backup.download", "backup.upload", "backup.delete", "clusterGroup.read",
    "clusterGroup.leave", "clusterGroupRequest.create", "clusterGroupRequest.read", "clusterGroupRequest.delete",
    "adminConfig.read", "adminConfig.update", "userConfig.read", "duplicate.read", "duplicate.delete",
    "face.create", "face.read", "face.update", "face.delete", "folder.read", "job.create", "job.read",
    "library.create", "library.read", "library.update", "library.delete", "library.statistics", "timeline.read",
    "timeline.download", "maintenance", "map.read", "map.search", "memory.create", "memory.read", "memory.update",
    "memory.delete", "memory.statistics", "memoryAsset.create", "memoryAsset.delete", "notification.create",
    "notification.read", "notification.update", "notification.delete", "partner.create", "partner.read",
    "partner.update", "partner.delete", "person.create", "person.read", "person.update", "person.delete",
    "person.statistics", "person.merge", "person.reassign", "pinCode.create", "pinCode.update", "pinCode.delete",
    "plugin.create", "plugin.read", "plugin.update", "plugin.delete", "server.about", "server.apkLinks",
    "server.storage", "server.statistics", "server.versionCheck", "serverLicense.read", "serverLicense.update",
    "serverLicense.delete", "session.create", "session.read", "session.update", "session.delete", "session.lock",
    "sharedLink.create", "sharedLink.read", "sharedLink.update", "sharedLink.delete", "stack.create", "stack.read",
    "stack.update", "stack.delete", "sync.stream", "syncCheckpoint.read", "syncCheckpoint.update",
    "syncCheckpoint.delete", "systemConfig.read", "systemConfig.update", "systemMetadata.read",
    "systemMetadata.update", "tag.create", "tag.read", "tag.update", "tag.delete", "tag.asset", "user.read",
    "user.update", "userLicense.create", "userLicense.read", "userLicense.update", "userLicense.delete",
    "userOnboarding.read", "userOnboarding.update", "userOnboarding.delete", "userPreference.read",
    "userPreference.update", "userProfileImage.create", "userProfileImage.read", "userProfileImage.update",
    "userProfileImage.delete", "queue.read", "queue.update", "queueJob.create", "queueJob.read", "queueJob.update",
    "queueJob.delete", "workflow.create", "workflow.read", "workflow.update", "workflow.delete", "workflow.logs",
    "adminUser.create", "adminUser.read", "adminUser.update", "adminUser.delete", "adminSession.read",
    "adminAuth.unlinkAll",
)
KNOWN = frozenset(PERMISSIONS)


def grants(held, permission: str | None) -> bool:
    """Whether a key holding `held` may call an endpoint needing `permission` (None: an endpoint that names
    no permission, which only an "all" key may call)."""
    return permission == ANY_KEY or ALL in held or (permission is not None and permission in held)


def can_grant(held, wanted) -> bool:
    """A key can only give a new or updated key permissions it holds (Immich GHSA-237r-x578-h5mv)."""
    return ALL in held or (ALL not in wanted and set(wanted) <= set(held))
