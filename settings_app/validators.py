"""config_validate handlers that need more than one field or the environment (the SMTP check lives in
notifications_app.validators, beside the SMTP client)."""

from django.conf import settings

from .events import ConfigInvalid, on_config_validate


@on_config_validate
def logging_not_overridden(old, new):
    if settings.LOG_LEVEL_OVERRIDE and old.logging != new.logging:
        raise ConfigInvalid(
            "logging.level", "Logging cannot be changed while the environment variable LOG_LEVEL is set."
        )
