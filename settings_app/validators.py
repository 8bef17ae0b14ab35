"""config_validate handlers that need more than one field, the environment or the network."""

import smtplib
import ssl

from django.conf import settings

from .events import ConfigInvalid, on_config_validate

SMTP_TIMEOUT_SECONDS = 10


@on_config_validate
def logging_not_overridden(old, new):
    if settings.LOG_LEVEL_OVERRIDE and old.logging != new.logging:
        raise ConfigInvalid(
            "logging.level", "Logging cannot be changed while the environment variable LOG_LEVEL is set."
        )


def verify_smtp(smtp) -> None:
    """Connect, upgrade to TLS when offered, log in: what nodemailer's verify() does for Immich."""
    transport = smtp.transport
    context = ssl.create_default_context()
    if transport.ignoreCert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client_class = smtplib.SMTP_SSL if transport.secure else smtplib.SMTP
    kwargs = {"context": context} if transport.secure else {}
    with client_class(transport.host, transport.port, timeout=SMTP_TIMEOUT_SECONDS, **kwargs) as client:
        client.ehlo()
        if not transport.secure and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if transport.username:
            client.login(transport.username, transport.password)
        client.noop()


@on_config_validate
def smtp_reachable(old, new):
    smtp = new.notifications.smtp
    if not smtp.enabled or old.notifications.smtp == smtp:
        return
    if not smtp.transport.host:
        raise ConfigInvalid("notifications.smtp.transport.host", "Required when email notifications are enabled.")
    try:
        verify_smtp(smtp)
    except (OSError, smtplib.SMTPException) as error:
        raise ConfigInvalid(
            "notifications.smtp.transport.host",
            f"Invalid SMTP configuration: could not connect to {smtp.transport.host}:{smtp.transport.port} "
            f"({error}).",
        )
