"""Whether the SMTP settings in force were verified (a save with email on, or a test email, connected with
exactly these settings). Settings loaded from a config file are not verified until a test email succeeds."""

import hashlib
import json

from ..models import SmtpVerification

PREFIX = "notifications.smtp."


def fingerprint(config) -> str:
    smtp = {path: value for path, value in config.flat().items()
            if path.startswith(PREFIX) and path != PREFIX + "enabled"}
    return hashlib.sha256(json.dumps(smtp, sort_keys=True).encode()).hexdigest()


def record(config) -> None:
    SmtpVerification.objects.update_or_create(pk=1, defaults={"fingerprint": fingerprint(config)})


def email_available(config) -> bool:
    """Immich's `email` feature: SMTP on, and verified with the settings in force."""
    if not config.notifications.smtp.enabled:
        return False
    return SmtpVerification.objects.filter(pk=1, fingerprint=fingerprint(config)).exists()
