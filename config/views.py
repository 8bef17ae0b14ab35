"""Django's error handlers: under /api/ they answer in Immich's JSON shape (api_app.errors), pages keep
Django's HTML, except that the machine's faults (database busy, disk full) get a readable page."""

import sys

from django.core.exceptions import DisallowedHost
from django.http.request import split_domain_port
from django.shortcuts import render
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
    """SuspiciousOperation (a body too large...), Django's BadRequest, and a request for a name the server
    does not answer to (a LAN address, a new host name), which says which name to add to ALLOWED_HOSTS:
    that is nearly always why someone on the network sees this page."""
    fault = fault_of(exception)
    host_refused = isinstance(exception, DisallowedHost)
    # The raw Host header, split as Django does: "" for a malformed one, so the page never echoes junk.
    refused_host = split_domain_port(request.META.get("HTTP_HOST", ""))[0] if host_refused else ""
    if is_api(request):
        if fault:
            return fault_response(fault)
        if host_refused:
            return error_response(400, f"The host name “{refused_host or '?'}” is not allowed: add it to the "
                                       "ALLOWED_HOSTS environment variable and restart the server.")
        return error_response(400, str(exception) or "Bad Request")
    if fault:
        return fault_page(request, fault)
    return render(request, "400.html", {"host_refused": host_refused, "refused_host": refused_host}, status=400)


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


