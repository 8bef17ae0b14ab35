"""config_init / config_update handlers owned by settings_app: the log level, live in every process."""

import logging

from django.conf import settings

from .events import on_config_init, on_config_update

VERBOSE = 5
logging.addLevelName(VERBOSE, "VERBOSE")
# Immich's level names -> Python's.
LOG_LEVELS = {
    "verbose": VERBOSE,
    "debug": logging.DEBUG,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}
LOGGING_OFF = logging.CRITICAL + 10


def effective_log_level(config) -> int:
    if settings.LOG_LEVEL_OVERRIDE:
        return LOG_LEVELS[settings.LOG_LEVEL_OVERRIDE]
    return LOG_LEVELS[config.logging.level] if config.logging.enabled else LOGGING_OFF


@on_config_init
def apply_log_level(config) -> None:
    level = effective_log_level(config)
    root = logging.getLogger()
    if root.level != level:
        root.setLevel(level)
        logging.getLogger(__name__).log(max(level, logging.INFO), "log level set to %s", logging.getLevelName(level))


@on_config_update
def reapply_log_level(old, new) -> None:
    apply_log_level(new)
