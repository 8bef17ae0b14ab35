"""The version check: a clearly named placeholder, as this server has no release feed to ask."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from settings_app.services import get_config

from .models import JobsMetadata

log = logging.getLogger(__name__)

VERSION_CHECK_STATE = "version-check-state"
VERSION_CHECK_MIN_INTERVAL = timedelta(seconds=50)  # Immich skips checks closer together than this


def placeholder_version_check() -> str:
    """PLACEHOLDER for Immich's VersionCheck: records when the check ran (skipping checks closer than
    50 s, as Immich) but asks no release server, as this server has no release feed yet."""
    config = get_config()
    if not config.newVersionCheck.enabled:
        return "version check disabled"
    now = timezone.now()
    state = JobsMetadata.objects.filter(key=VERSION_CHECK_STATE).first()
    checked_at = state and state.value.get("checkedAt")
    if checked_at and now - datetime.fromisoformat(checked_at) < VERSION_CHECK_MIN_INTERVAL:
        return "version check skipped: checked less than 50 s ago"
    JobsMetadata.objects.update_or_create(
        key=VERSION_CHECK_STATE,
        defaults={"value": {"checkedAt": now.isoformat(), "channel": config.newVersionCheck.channel,
                            "releaseVersion": None}},
    )
    return "version check recorded (no release feed configured)"
