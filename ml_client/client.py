"""The server's one client of the machine-learning service (Immich's MachineLearningRepository): this
repository's `manage.py runml` or a real Immich ML server, over Immich's HTTP protocol.

- URLs (machineLearning.urls) are tried in order, healthy ones first; a URL that fails (network error or
  a non-2xx answer) is marked unhealthy and the next is tried.
- Availability checks: before a request, a URL not checked within `interval` ms is pinged (GET /ping,
  `timeout` ms). The settings are read at every request, so changes apply at once. Checks disabled: every
  URL counts as healthy.
- No URL answers: the queues whose jobs call the service are held (jobs_app holds: their jobs wait, the
  jobs page says "waiting for machine learning at …", one probe job per check interval); the job itself
  goes back to the queue (RetryLater), never dropped. The first request that succeeds releases them.
- URLs that answer with an error (e.g. 422, a model that is not installed) fail the job with the
  service's message: waiting would not help."""

import json
import logging
import time
from dataclasses import dataclass

import requests

from jobs_app import services as jobs
from jobs_app.handlers import RetryLater
from jobs_app.queues import QUEUES_BY_NAME
from settings_app.services import get_config

log = logging.getLogger(__name__)

# The queues whose jobs send requests to the ML service. Facial recognition and duplicate detection work on
# stored embeddings and keep running while the service is away.
ML_QUEUES = tuple(name for name in ("faceDetection", "smartSearch", "ocr") if name in QUEUES_BY_NAME)
PREDICT_TIMEOUT = 300  # seconds: the first request of a model waits for it to load


class MachineLearningError(Exception):
    """The service answered, but with an error; the message is the service's."""


class MachineLearningUnavailable(RetryLater):
    """No URL answered: the job waits in the queue (its queue is held until the service is back)."""

    def __init__(self, urls, delay: float):
        self.urls = list(urls)
        super().__init__(waiting_message(self.urls), delay)


def waiting_message(urls) -> str:
    return "waiting for machine learning at " + ", ".join(urls)


@dataclass
class UrlHealth:
    healthy: bool
    checked_at: float  # time.monotonic()
    detail: str = ""


_health: dict[str, UrlHealth] = {}


def ping(url: str, timeout_ms: int) -> tuple[bool, str]:
    """GET <url>/ping: (answered "pong", what happened)."""
    try:
        response = requests.get(url.rstrip("/") + "/ping", timeout=timeout_ms / 1000)
    except requests.RequestException as error:
        return False, f"no answer ({type(error).__name__}: {error})"
    if response.status_code == 200 and response.text.strip().strip('"') == "pong":
        return True, "pong"
    return False, f"HTTP {response.status_code}: {response.text[:200]}"


def _mark(url: str, healthy: bool, detail: str = "") -> None:
    _health[url] = UrlHealth(healthy, time.monotonic(), detail)


def _ordered_urls(ml) -> list[str]:
    """The URLs to try: healthy first, then the unhealthy ones, each group in the configured order."""
    urls = list(ml.urls)
    checks = ml.availabilityChecks
    if checks.enabled:
        now = time.monotonic()
        for url in urls:
            known = _health.get(url)
            if known is None or now - known.checked_at >= checks.interval / 1000:
                _mark(url, *ping(url, checks.timeout))
    healthy = [url for url in urls if not checks.enabled or _health[url].healthy]
    return healthy + [url for url in urls if url not in healthy]


def predict(entries: dict, image: bytes | None = None, text: str | None = None, *, config=None) -> dict:
    """POST /predict with Immich's multipart body; the parsed JSON answer of the first URL that succeeds."""
    ml = (config or get_config()).machineLearning
    files = {"image": ("image", image, "application/octet-stream")} if image is not None else None
    data = {"entries": json.dumps(entries)}
    if text is not None:
        data["text"] = text
    answered = []
    for url in _ordered_urls(ml):
        try:
            response = requests.post(url.rstrip("/") + "/predict", data=data, files=files, timeout=PREDICT_TIMEOUT)
        except requests.RequestException as error:
            log.warning("machine learning at %s did not answer: %s", url, error)
            _mark(url, False, str(error))
            continue
        if 200 <= response.status_code < 300:
            _mark(url, True, "ok")
            jobs.release_queues(ML_QUEUES)
            return response.json()
        detail = _error_detail(response)
        log.warning("machine learning at %s answered %s: %s", url, response.status_code, detail)
        _mark(url, False, detail)
        answered.append(f"{url}: HTTP {response.status_code}: {detail}")
    if answered:
        raise MachineLearningError(f"Machine learning request {json.dumps(entries)} failed: " + "; ".join(answered))
    probe_seconds = ml.availabilityChecks.interval / 1000 if ml.availabilityChecks.enabled else 30
    jobs.hold_queues(ML_QUEUES, waiting_message(ml.urls), probe_seconds)
    raise MachineLearningUnavailable(ml.urls, probe_seconds)


def _error_detail(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return json.dumps(body)[:500]


def check_urls(urls, timeout_ms: int) -> list[tuple[str, bool, str]]:
    """The settings page's Test button: ping each URL now."""
    results = []
    for url in urls:
        healthy, detail = ping(url, timeout_ms)
        _mark(url, healthy, detail)
        results.append((url, healthy, detail))
    return results


def forget_health() -> None:
    _health.clear()
