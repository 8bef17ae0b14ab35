"""Which function runs a job, by Immich job name. Handlers are thin: they take the Job and call a
service. Placeholders mark work whose pipeline does not exist yet (or a generic default, such as the
"queue all" fan-out); registering a real handler for the same name (the media issues do) replaces them."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    name: str
    func: Callable  # func(job) -> str | None, a short outcome for the log
    placeholder: bool = False


HANDLERS: dict[str, Handler] = {}


class RetryLater(Exception):  # noqa: N818  (not an error: the job goes back to the queue)
    """Raised by a handler whose job cannot run now for a reason outside the job (a service it needs is
    down): the job goes back to waiting for `delay` seconds, not counted as a failed attempt."""

    def __init__(self, reason: str, delay: float = 30):
        super().__init__(reason)
        self.reason, self.delay = reason, delay


def job_handler(*names: str, placeholder: bool = False):
    def register(func):
        for name in names:
            existing = HANDLERS.get(name)
            if existing and not existing.placeholder and existing.func is not func:
                if placeholder:
                    continue  # a real handler is already in place
                raise ImproperlyConfigured(f"Two handlers for the job {name}: {existing.func} and {func}.")
            HANDLERS[name] = Handler(name, func, placeholder)
        return func

    return register


def get_handler(name: str) -> Handler | None:
    return HANDLERS.get(name)
