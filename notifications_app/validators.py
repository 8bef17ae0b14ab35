"""Saving Notification settings with email on checks the SMTP connection (Immich's config validation)."""

import smtplib

from settings_app.events import ConfigInvalid, on_config_validate

from .services import smtp as smtp_client
from .services import verification


@on_config_validate
def smtp_reachable(old, new):
    smtp = new.notifications.smtp
    if not smtp.enabled or old.notifications.smtp == smtp:
        return
    if not smtp.transport.host:
        raise ConfigInvalid("notifications.smtp.transport.host", "Required when email notifications are enabled.")
    try:
        smtp_client.verify(smtp)
    except (OSError, smtplib.SMTPException) as error:
        raise ConfigInvalid(
            "notifications.smtp.transport.host",
            f"Invalid SMTP configuration: could not connect to {smtp.transport.host}:{smtp.transport.port} "
            f"({smtp_client.explain(error, smtp)})",
        )
    verification.record(new)
