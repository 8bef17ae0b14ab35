"""A daemon thread in every long-running process (web server, job workers) that polls the settings token,
so that a change saved anywhere is applied here within about a second even when this process is idle."""

import logging
import threading
import time

from django.db import close_old_connections

from .services import REFRESH_SECONDS, refresh_config

log = logging.getLogger(__name__)
_started = threading.Event()


def _poll_forever(interval: float) -> None:
    while True:
        try:
            refresh_config()
        except Exception:
            log.exception("could not refresh settings")
        finally:
            close_old_connections()
        time.sleep(interval)


def start_config_watcher(interval: float = REFRESH_SECONDS / 2) -> None:
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_poll_forever, args=(interval,), name="config-watcher", daemon=True).start()
