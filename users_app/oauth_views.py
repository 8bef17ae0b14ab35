"""OAuth login pages (/auth/oauth/...) and the settings-page extras (Immich's /api/oauth/* endpoints are in
users_app.oauth_api). The work is done in users_app.oauth; these views only translate HTTP."""

import logging

from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import oauth
from .decorators import admin_required

log = logging.getLogger(__name__)

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _safe_next(request, target: str) -> str:
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if target and allowed else ""


def start_oauth_session(request, user, id_token: str) -> None:
    login(request, user, backend=BACKEND)
    # Kept for RP-initiated logout (id_token_hint); also marks the session as an OAuth one.
    request.session[oauth.SESSION_ID_TOKEN] = id_token


def _error_page(request, error: oauth.OAuthError):
    log.warning("OAuth login failed (%s): %s", error.status, error.message)
    return render(request, "users_app/oauth_error.html", {"message": error.message, "status": error.status},
                  status=error.status)


# --- Browser login ----------------------------------------------------------------------------------


@require_GET
def start(request):
    """The login page's OAuth button: off to the provider."""
    try:
        url = oauth.begin(request.session, _origin(request) + oauth.CALLBACK_PATH,
                          next_url=_safe_next(request, request.GET.get("next", "")))
    except oauth.OAuthError as error:
        return _error_page(request, error)
    return redirect(url)


@require_GET
def callback(request):
    """Where the provider sends the browser back (the "Web login" redirect URI)."""
    try:
        completed = oauth.complete(request.session, request.GET.dict())
        user = oauth.user_for_profile(completed.profile)
    except oauth.OAuthError as error:
        return _error_page(request, error)
    start_oauth_session(request, user, completed.id_token)
    return redirect(_safe_next(request, completed.next_url) or "/")


# --- Settings page extras ---------------------------------------------------------------------------


@admin_required
@require_GET
def settings_extra(request):
    """Fragment for the Authentication settings: the redirect URIs to register and "Test configuration"."""
    return render(request, "users_app/oauth_settings_extra.html",
                  {"redirect_uris": oauth.redirect_uris(_origin(request))})


@admin_required
@require_POST
def test_config(request):
    """POST the Authentication form's fields (or nothing, to test the saved settings): an HTML fragment
    reporting discovery, keys and what a login would request. Nothing is saved."""
    settings_under_test, errors = oauth.settings_for_test(request.POST)
    report = None
    if settings_under_test is not None:
        report = oauth.check_configuration(settings_under_test, _origin(request) + oauth.CALLBACK_PATH)
    return render(request, "users_app/oauth_settings_extra.html#test-result",
                  {"report": report, "form_errors": errors})
