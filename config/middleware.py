"""Page-side answers to faults and expired sessions, so that htmx never swaps a login form or Django's
"Server Error (500)" into a panel."""

import logging
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from api_app.errors import fault_response, is_api

from .faults import Fault, fault_of

log = logging.getLogger(__name__)

FAULT_TARGET = "#page-fault"  # the alert region of templates/base.html


def fault_page(request, fault: Fault) -> HttpResponse:
    """A readable message for a fault: for htmx, a fragment swapped into the page's alert region (the form
    being edited stays as it is, ready to be sent again); otherwise a whole page."""
    if getattr(request, "htmx", False):
        response = render(request, "fault.html#fault-message", {"fault": fault}, status=fault.status)
        response["HX-Retarget"] = FAULT_TARGET
        response["HX-Reswap"] = "innerHTML"
    else:
        response = render(request, "fault.html", {"fault": fault}, status=fault.status)
    if fault.retry_after:
        response["Retry-After"] = str(fault.retry_after)
    return response


class FaultMiddleware:
    """A view that hits a fault of the machine (database busy past the busy timeout, disk full) answers
    with what happened instead of a 500 page; /api/ paths and scripts asking for JSON get Immich's JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        fault = fault_of(exception)
        if fault is None:
            return None
        log.warning("%s %s: %s (%s)", request.method, request.path, fault.message, exception)
        wants_json = request.headers.get("Accept", "").startswith("application/json")  # e.g. the upload page
        return fault_response(fault) if is_api(request) or wants_json else fault_page(request, fault)


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session expired is sent to the login page as a whole-page navigation
    (HX-Redirect), back to the page the user was on, rather than getting the login form swapped into a
    panel (XMLHttpRequest follows the 302 silently)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code != 302:
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        back_to = request.htmx.current_url or ""
        if not url_has_allowed_host_and_scheme(back_to, {request.get_host()}, request.is_secure()):
            back_to = request.get_full_path()
        parts = urlsplit(back_to)
        next_url = parts.path + (f"?{parts.query}" if parts.query else "")
        redirect = HttpResponse(status=200)
        redirect["HX-Redirect"] = f"{login_path}?{urlencode({'next': next_url})}"
        return redirect
