"""A user's Immich preferences (`/api/users/me/preferences`, `/api/admin/users/{id}/preferences`): Immich's
defaults with the user's own choices over them. Three stores, each value in exactly one: the album emails
are notifications_app's EmailPreferences (the account page switches them too), the avatar colour is the
user's `avatar_color`, and every other group is `User.preferences`, which holds only what the user changed."""

from django.db import transaction

from notifications_app.services.mail import preferences_of, set_preferences
from settings_app.services import get_config

# Immich's defaults of the groups kept in User.preferences. memories.enabled is the server's "Generate
# memories" nightly task unless the user chose otherwise (no memories are made while that task is off).
DEFAULTS = {
    "albums": {"defaultAssetOrder": "desc"},
    "cast": {"gCastEnabled": False},
    "download": {"archiveSize": 4 * 1024**3, "includeEmbeddedVideos": False},
    "folders": {"enabled": False, "sidebarWeb": False},
    "memories": {"enabled": True, "duration": 5, "sidebarWeb": False},
    "people": {"enabled": True, "minimumFaces": 3, "sidebarWeb": False},
    "purchase": {"showSupportBadge": False, "hideBuyButtonUntil": "2100-01-01T00:00:00.000Z"},
    "ratings": {"enabled": False},
    "recentlyAdded": {"sidebarWeb": False},
    "sharedLinks": {"enabled": True, "sidebarWeb": False},
    "tags": {"enabled": False, "sidebarWeb": False},
}
# API name -> EmailPreferences field of the album-email switches.
EMAIL_FIELDS = {"enabled": "enabled", "albumInvite": "album_invite", "albumUpdate": "album_update"}


def _defaults() -> dict:
    defaults = {group: dict(fields) for group, fields in DEFAULTS.items()}
    defaults["memories"]["enabled"] = get_config().nightlyTasks.generateMemories
    return defaults


def preferences(user) -> dict:
    """Every group of Immich's UserPreferencesResponseDto: the defaults, overridden by the user's choices."""
    chosen = user.preferences or {}
    merged = {group: {name: chosen.get(group, {}).get(name, default) for name, default in fields.items()}
              for group, fields in _defaults().items()}
    email = preferences_of(user)
    merged["emailNotifications"] = {name: getattr(email, field) for name, field in EMAIL_FIELDS.items()}
    return merged


def update_preferences(user, changes: dict) -> dict:
    """Store the values a client sent (Immich's UserPreferencesUpdateDto, already validated: groups and
    fields it left out stay as they are) and return all the preferences. All stores change or none."""
    changes = {group: fields for group, fields in changes.items() if fields}
    chosen = {group: dict(fields) for group, fields in (user.preferences or {}).items()}
    for group in DEFAULTS.keys() & changes.keys():
        chosen.setdefault(group, {}).update(changes[group])
    with transaction.atomic():
        if "emailNotifications" in changes:
            set_preferences(user, **{EMAIL_FIELDS[name]: value
                                     for name, value in changes["emailNotifications"].items()})
        user.preferences = chosen
        update_fields = ["preferences"]
        if "color" in changes.get("avatar", {}):
            user.avatar_color = changes["avatar"]["color"]
            update_fields.append("avatar_color")
        user.save(update_fields=update_fields)
    return preferences(user)
