"""Django's error handlers: under /api/ they answer in Immich's JSON shape (api_app.errors), pages keep
Django's HTML, except that the machine's faults (database busy, disk full) get a readable page."""

import sys

from django.views import defaults
from django.views.csrf import csrf_failure as html_csrf_failure

from api_app.errors import error_response, exception_response, fault_response, is_api

from .faults import fault_of
from .middleware import fault_page


def csrf_failure(request, reason=""):
    if is_api(request):
        return error_response(403, f"CSRF check failed: {reason}")
    return html_csrf_failure(request, reason)


def not_found(request, exception):
    if is_api(request):
        return error_response(404, f"Cannot {request.method} {request.path}")
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """SuspiciousOperation (a disallowed Host header, a body too large...) and Django's BadRequest."""
    fault = fault_of(exception)
    if is_api(request):
        return fault_response(fault) if fault else error_response(400, str(exception) or "Bad Request")
    if fault:
        return fault_page(request, fault)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api(request):
        return error_response(403, str(exception) or "Forbidden")
    return defaults.permission_denied(request, exception)


def server_error(request):
    """Called while the exception is being handled, so sys.exc_info() holds the cause."""
    error = sys.exc_info()[1]
    if is_api(request):
        return exception_response(request, error) if error else error_response(500, "Internal server error")
    if error is not None and (fault := fault_of(error)):
        return fault_page(request, fault)
    return defaults.server_error(request)


