"""The WSGI application speaking Immich's ML protocol: ``GET /``, ``GET /ping``, ``POST /predict``.

Errors answer as Immich's FastAPI app does: JSON ``{"detail": ...}`` with 422 for entries it cannot read
(FastAPI's field-error list when the ``entries`` field is missing), 400 for a request without image or
text or with an image that does not decode, 500 when a model cannot be loaded (another URL may have it).
"""

import json
import logging
from urllib.parse import parse_qs

import cv2
from multipart import MultipartError, MultipartParser, parse_options_header

from ml_service.models import ModelCache, ModelUnavailable, inference_threads, model_ttl
from ml_service.predict import RequestError, parse_entries, predict

log = logging.getLogger("ml_service")

MAX_REQUEST_BYTES = 256 * 1024 * 1024  # a preview is well under 1 MB; an original photo fits too
SPOOL_BYTES = 4 * 1024 * 1024  # parts up to this size stay in memory, larger ones go to a temporary file
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
}


def missing_field(name: str) -> list[dict]:
    """FastAPI's 422 detail for a required form field that was not sent."""
    return [{"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None}]


class MLApplication:
    def __init__(self, cache: ModelCache) -> None:
        self.cache = cache

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        routes = {"/": ("GET", self.root), "/ping": ("GET", self.ping), "/predict": ("POST", self.predict)}
        if path not in routes:
            status, content_type, body = _json(404, {"detail": "Not Found"})
        elif method != routes[path][0] and not (method == "HEAD" and routes[path][0] == "GET"):
            status, content_type, body = _json(405, {"detail": "Method Not Allowed"})
        else:
            status, content_type, body = routes[path][1](environ)
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if status == 405:
            headers.append(("Allow", routes[path][0]))
        start_response(f"{status} {STATUS_TEXT[status]}", headers)
        return [b""] if method == "HEAD" else [body]

    def root(self, environ):
        return _json(200, {"message": "Immich ML"})

    def ping(self, environ):
        return 200, "text/plain; charset=utf-8", b"pong"

    def predict(self, environ):
        try:
            fields = read_form(environ)
            if "entries" not in fields:
                raise RequestError(422, missing_field("entries"))
            try:
                entries_text = fields["entries"].decode()
            except UnicodeDecodeError:
                raise RequestError(422, "Invalid request format.")
            entries = parse_entries(entries_text)
            text = fields["text"].decode(errors="replace") if "text" in fields else None
            return _json(200, predict(entries, fields.get("image"), text, self.cache))
        except RequestError as error:
            return _json(error.status, {"detail": error.detail})
        except ModelUnavailable as error:
            log.warning("%s", error)
            return _json(500, {"detail": str(error)})


def read_form(environ) -> dict[str, bytes]:
    """The request's form fields as raw bytes (multipart or url-encoded), the first of each name."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)  # -1: chunked, read to the end of the body
    except ValueError:
        raise RequestError(400, "Invalid Content-Length header")
    if length > MAX_REQUEST_BYTES:
        raise RequestError(413, f"The request is larger than {MAX_REQUEST_BYTES // 2**20} MiB.")
    content_type, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
    stream = environ["wsgi.input"]
    if content_type == "application/x-www-form-urlencoded":
        body = stream.read(length) if length >= 0 else stream.read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:
            raise RequestError(413, f"The request is larger than {MAX_REQUEST_BYTES // 2**20} MiB.")
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        return {name: values[0].encode("latin-1") for name, values in fields.items()}
    if content_type != "multipart/form-data":
        return {}  # FastAPI reads no form from other bodies: the required field is then missing
    fields: dict[str, bytes] = {}
    try:
        parser = MultipartParser(
            stream,
            options.get("boundary", ""),
            length,
            part_limit=16,
            spool_limit=SPOOL_BYTES,
            memory_limit=4 * SPOOL_BYTES,
            disk_limit=MAX_REQUEST_BYTES,
        )
        for part in parser:
            fields.setdefault(part.name, part.raw)
            part.close()
    except MultipartError:
        raise RequestError(400, "There was an error parsing the body")
    return fields


def _json(status: int, payload) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload, separators=(",", ":")).encode()


def create_app() -> MLApplication:
    """The application for one serving process, with its own model cache and idle-unload thread."""
    cv2.setNumThreads(inference_threads())
    cache = ModelCache(model_ttl())
    cache.start_reaper()
    log.info("ML models unload after %s s idle", cache.ttl if cache.ttl > 0 else "never")
    return MLApplication(cache)
