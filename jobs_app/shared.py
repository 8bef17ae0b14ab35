"""State shared by the processes of one `runjobs` instance (created before the pool is forked), and the
wake-ups that cut an idle claimer's wait short: a finishing job on this machine sets the local event;
with REDIS_URL a Redis pub/sub message does the same on every machine (a new job, a freed slot)."""

import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)

worker_id = ""  # the instance's "<host>:<pid>:<scope>.<start>" (jobs_app.identity): claims and leases name it
max_processes = 0  # this machine's cap on pool processes, hence on the jobs it holds at once (0: no cap)
_wake = None  # multiprocessing.Event
_new_work = threading.Event()  # in the claiming process: Redis said jobs were queued somewhere
_in_flight = None  # multiprocessing.Value: jobs claimed by this instance and not finished yet
_current_job = None  # in a pool process, multiprocessing.Value: the id of the job it runs now (0: none)
_redis = None


def install(instance_id: str, wake_event, in_flight_counter, process_cap: int = 0) -> None:
    global worker_id, _wake, _in_flight, max_processes
    worker_id, _wake, _in_flight, max_processes = instance_id, wake_event, in_flight_counter, process_cap


def free_processes() -> int | None:
    """How many more jobs this machine may hold now; None without a cap."""
    return max(0, max_processes - in_flight()) if max_processes else None


def use_current_job_slot(slot) -> None:
    """In a pool process: where it tells the sentinel which job it runs (the sentinel renews that lease)."""
    global _current_job
    _current_job = slot


def set_current_job(job_id: int) -> None:
    if _current_job is not None:
        _current_job.value = job_id


def in_flight() -> int:
    return _in_flight.value if _in_flight is not None else 0


def add_in_flight(count: int) -> None:
    if _in_flight is not None:
        with _in_flight.get_lock():
            _in_flight.value = max(0, _in_flight.value + count)


def wait_for_wake(timeout: float) -> bool:
    if _wake is None:
        time.sleep(timeout)
        return False
    woken = _wake.wait(timeout)
    _wake.clear()
    return woken


def wake_local() -> None:
    if _wake is not None:
        _wake.set()


def take_new_work() -> bool:
    """Whether jobs were queued somewhere since the last call (only known with Redis)."""
    if _new_work.is_set():
        _new_work.clear()
        return True
    return False


# --- Across machines (Redis) ---------------------------------------------------------------------------


def channel() -> str:
    # One channel per database, so that test runs and installs sharing a Redis do not wake each other.
    return f"photoserver:jobs:{settings.DATABASES['default']['NAME']}"


def _client():
    global _redis
    if _redis is None and settings.REDIS_URL:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis


NEW_WORK, SLOT_FREED = b"new", b"slot"


def publish(kind: bytes = NEW_WORK) -> None:
    """Tell every worker machine there may be something to claim (no-op without Redis)."""
    client = _client()
    if client is None:
        return
    try:
        client.publish(channel(), kind)
    except Exception as error:  # a lost wake-up only costs one poll interval
        log.debug("could not publish a jobs wake-up: %s", error)


def start_redis_listener() -> bool:
    """In the claiming process: turn Redis wake-ups into local ones. False without REDIS_URL."""
    if not settings.REDIS_URL:
        return False
    threading.Thread(target=_listen_forever, name="jobs-wakeups", daemon=True).start()
    return True


def _listen_forever() -> None:
    import redis

    while True:
        try:
            pubsub = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).pubsub(
                ignore_subscribe_messages=True)
            pubsub.subscribe(channel())
            for message in pubsub.listen():
                if message and message.get("type") == "message":
                    if message.get("data") == NEW_WORK:
                        _new_work.set()
                    wake_local()
        except Exception as error:
            log.warning("jobs wake-up listener lost Redis (%s); polling meanwhile", error)
            time.sleep(2)
