"""Every /api/ answer is JSON: an error response that is not (Django's empty 405 of a ninja path view, a
404 of the URL resolver, anything HTML) is rewritten into Immich's shape, keeping its status and headers."""

from http import HTTPStatus

from .errors import error_response, is_api

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(response) -> str:
    """The Allow header in one stable order (ninja lists a path's methods as its operations come)."""
    methods = [method.strip() for method in response.get("Allow", "").split(",") if method.strip()]
    return ", ".join(sorted(methods, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER)))


def _message(request, response) -> str:
    if response.status_code == 405:
        allowed = _allowed(response)
        return f"Method {request.method} is not allowed on {request.path}" + (f"; use {allowed}." if allowed else ".")
    if response.status_code == 404:
        return f"Cannot {request.method} {request.path}"
    return HTTPStatus(response.status_code).phrase


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not is_api(request) or response.status_code < 400 or response.get("Content-Type", "").startswith(
                "application/json"):
            return response
        rewritten = error_response(response.status_code, _message(request, response))
        for header in ("Retry-After", "WWW-Authenticate"):
            if header in response:
                rewritten[header] = response[header]
        if "Allow" in response:
            rewritten["Allow"] = _allowed(response)
        return rewritten
