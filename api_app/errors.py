"""Immich's error shapes for every /api/ response: `{message, statusCode, error}`, and on validation
`{message: "Validation failed", errors: [{path, message}], ...}`. One mapping from exceptions to those
shapes, used by the NinjaAPI (api_app.api) and by Django's own error handlers for /api/ paths."""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from ninja.errors import AuthenticationError, HttpError, ValidationError

from config.faults import Fault, fault_of

log = logging.getLogger(__name__)

VALIDATION_FAILED = "Validation failed"
INTERNAL_ERROR = "Internal server error: the server could not complete the request (see the server log)."


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str, **extra) -> JsonResponse:
    """Immich's error body; `error` is the status's reason phrase unless given."""
    extra.setdefault("error", HTTPStatus(status).phrase)
    return JsonResponse({"message": message, "statusCode": status, **extra}, status=status)


class ApiError(HttpError):
    """Raise from an endpoint to answer an Immich-shaped error; `errors` is the validation list."""

    def __init__(self, status: int, message: str, *, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status, message)
        self.errors = errors
        self.headers = headers or {}


def field_error(path, message: str) -> dict:
    """One entry of Immich's validation list; `path` is a dotted key path or a sequence of names."""
    return {"path": path.split(".") if isinstance(path, str) else list(path), "message": message}


def validation_failed(errors: list[dict], message: str = VALIDATION_FAILED) -> ApiError:
    return ApiError(400, message, errors=errors)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def fault_response(fault: Fault) -> JsonResponse:
    response = error_response(fault.status, fault.message, error=fault.error)
    if fault.retry_after:
        response["Retry-After"] = str(fault.retry_after)
    return response


def exception_response(request, error: BaseException) -> JsonResponse:
    """The JSON answer for any exception raised while serving an /api/ request."""
    if isinstance(error, ApiError):
        response = error_response(error.status_code, error.message,
                                  **({"errors": error.errors} if error.errors is not None else {}))
        for name, value in error.headers.items():
            response[name] = value
        return response
    if isinstance(error, HttpError) and isinstance(error.__cause__, ApiError):
        # Ninja wraps whatever its body parser raises into HttpError(400, "Cannot parse request body");
        # the parser's own ApiError says what is wrong.
        return exception_response(request, error.__cause__)
    if isinstance(error, AuthenticationError):
        return error_response(401, "Authentication required")
    if isinstance(error, HttpError):
        return error_response(error.status_code, error.message)
    if isinstance(error, ValidationError):
        return error_response(400, VALIDATION_FAILED, errors=[_immich_error(item) for item in error.errors])
    if isinstance(error, Http404):
        return error_response(404, str(error) or "Not Found")
    if isinstance(error, PermissionDenied):
        return error_response(403, str(error) or "Forbidden")
    if fault := fault_of(error):
        log.warning("%s %s: %s (%s)", request.method, request.path, fault.message, error)
        return fault_response(fault)
    log.error("%s %s failed", request.method, request.path, exc_info=(type(error), error, error.__traceback__))
    return error_response(500, INTERNAL_ERROR)


# Where a pydantic error was found -> how many leading names are ninja's, not the client's: "body"
# plus the parameter name for a body schema; "query"/"path"/"file"/"form" alone for the others.
def _immich_error(item: dict) -> dict:
    location = list(item.get("loc", ()))
    if location[:1] == ["body"]:
        location = location[2:]
    elif location[:1] in (["query"], ["path"], ["header"], ["cookie"], ["form"], ["file"]):
        location = location[1:]
    message = item.get("msg", "")
    if item.get("type") == "value_error" and "error" in item.get("ctx", {}):
        message = str(item["ctx"]["error"])  # our own validator's sentence, without pydantic's prefix
    return field_error([str(part) for part in location], message)


def install(api) -> None:
    """Route every exception ninja sees through exception_response."""
    for error_class in (Exception, HttpError, ValidationError, Http404):
        api.add_exception_handler(error_class, exception_response)
