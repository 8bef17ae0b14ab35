"""Queue commands. (Placeholder interface until the jobs engine lands: see issue 3.)"""


class QueueBusy(Exception):
    """Starting a queue that is already running is refused, as Immich does ("Job is already running")."""


def start_queue(queue_name: str, force: bool | None, *, user=None) -> str:
    """Queue the 'queue all' job of a queue (force: True = ALL, False = MISSING, None = REFRESH).
    Returns a message for the administrator; raises QueueBusy when the queue is running."""
    raise NotImplementedError("the jobs engine (issue 3) replaces this")
