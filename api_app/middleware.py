"""Every /api/ answer is JSON: an error response that is not (Django's empty 405 of a ninja path view, a
404 of the URL resolver, anything HTML) is rewritten into Immich's shape, keeping its status and headers."""

from http import HTTPStatus

from .errors import error_response, is_api


def _message(request, response) -> str:
    if response.status_code == 405:
        allowed = response.get("Allow", "")
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
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                rewritten[header] = response[header]
        return rewritten
