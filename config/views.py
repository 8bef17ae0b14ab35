"""Errors under /api/ answer in Immich's JSON shape; pages keep Django's HTML."""

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django.http.request import split_domain_port
from django.shortcuts import render
from django.views import defaults
from django.views.csrf import csrf_failure as html_csrf_failure


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def csrf_failure(request, reason=""):
    if _is_api(request):
        return JsonResponse({"message": f"CSRF check failed: {reason}", "statusCode": 403, "error": "Forbidden"},
                            status=403)
    return html_csrf_failure(request, reason)


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"message": f"Cannot {request.method} {request.path}", "statusCode": 404,
                             "error": "Not Found"}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """400. A request for a name the server does not answer to (a LAN address, a new host name) says which
    name to add to ALLOWED_HOSTS: that is nearly always why someone on the network sees this page."""
    host_refused = isinstance(exception, DisallowedHost)
    # The raw Host header, split as Django does: "" for a malformed one, so the page never echoes junk.
    refused_host = split_domain_port(request.META.get("HTTP_HOST", ""))[0] if host_refused else ""
    if _is_api(request):
        message = "Bad request."
        if host_refused:
            message = (f"The host name “{refused_host or '?'}” is not allowed: add it to the ALLOWED_HOSTS "
                       "environment variable and restart the server.")
        return JsonResponse({"message": message, "statusCode": 400, "error": "Bad Request"}, status=400)
    return render(request, "400.html", {"host_refused": host_refused, "refused_host": refused_host}, status=400)
