"""Immich's config event triad. Apps register handlers in their AppConfig.ready():

- config_init(new): once per process, when the config is first loaded;
- config_validate(old, new): before any save; raise ConfigInvalid to refuse it;
- config_update(old, new): after a save, in every process (each one notices within about a second).
"""

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_init_handlers: list[Callable] = []
_validate_handlers: list[Callable] = []
_update_handlers: list[Callable] = []


class ConfigInvalid(Exception):
    """Raised by a config_validate handler: `path` is the Immich key path the message is about."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def on_config_init(handler):
    _init_handlers.append(handler)
    return handler


def on_config_validate(handler):
    _validate_handlers.append(handler)
    return handler


def on_config_update(handler):
    _update_handlers.append(handler)
    return handler


def emit_init(new) -> None:
    for handler in _init_handlers:
        _run_safely(handler, new)


def emit_update(old, new) -> None:
    for handler in _update_handlers:
        _run_safely(handler, old, new)


def validate(old, new) -> list[ConfigInvalid]:
    problems = []
    for handler in _validate_handlers:
        try:
            handler(old, new)
        except ConfigInvalid as problem:
            problems.append(problem)
    return problems


def _run_safely(handler, *args) -> None:
    # One broken listener must not stop the others, nor the request or job that noticed the change.
    try:
        handler(*args)
    except Exception:
        log.exception("config listener %s failed", getattr(handler, "__qualname__", handler))
