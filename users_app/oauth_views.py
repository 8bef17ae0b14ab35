"""OAuth login pages (/auth/oauth/...), the settings-page extras, and Immich's /api/oauth/* endpoints.
The work is done in users_app.oauth; these views only translate HTTP."""

import logging

from django.contrib.auth import login
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import oauth
from .api import BadRequest, api_methods, field_error, json_object_body, login_response, validation_failed
from .decorators import admin_required, api_error, api_login_required

log = logging.getLogger(__name__)

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _safe_next(request, target: str) -> str:
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if target and allowed else ""


def _start_session(request, user, id_token: str) -> None:
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
    _start_session(request, user, completed.id_token)
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


# --- Immich API -------------------------------------------------------------------------------------


def _json_string(request, name: str):
    """(value, None) or (None, error response) for a required string field of a JSON body."""
    if request.content_type != "application/json":
        return None, api_error("Send the request as JSON (Content-Type: application/json).", 400, error="Bad Request")
    try:
        body = json_object_body(request)
    except BadRequest as bad:
        return None, bad.response
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        return None, validation_failed([field_error([name], f"{name} is required and must be a string.")])
    return value.strip(), None


def _api_oauth_error(error: oauth.OAuthError) -> JsonResponse:
    log.warning("OAuth API call failed (%s): %s", error.status, error.message)
    return api_error(error.message, error.status, error="Bad Request" if error.status == 400 else "Bad Gateway")


@csrf_exempt  # API clients have no CSRF cookie; starting a flow only adds a pending flow to the session
@api_methods("POST")
def api_authorize(request):
    """POST /api/oauth/authorize {redirectUri} -> {url}; the pending flow is kept in the session cookie."""
    redirect_uri, problem = _json_string(request, "redirectUri")
    if problem:
        return problem
    try:
        url = oauth.begin(request.session, redirect_uri)
    except oauth.OAuthError as error:
        return _api_oauth_error(error)
    return JsonResponse({"url": url}, status=201)


def _complete_from_url(request, url: str) -> oauth.Completed:
    config = oauth.get_config().oauth
    return oauth.complete(request.session, oauth.callback_params(oauth.resolve_redirect_uri(config, url)))


# Exempt from CSRF like POST /api/auth/login: it only accepts application/json, and the state must match a
# flow this very session started, so no other site can log a visitor in with its own code.
@csrf_exempt
@api_methods("POST")
def api_callback(request):
    """POST /api/oauth/callback {url} (the URL the provider redirected to) -> Immich's login response."""
    url, problem = _json_string(request, "url")
    if problem:
        return problem
    try:
        completed = _complete_from_url(request, url)
        user = oauth.user_for_profile(completed.profile)
    except oauth.OAuthError as error:
        return _api_oauth_error(error)
    _start_session(request, user, completed.id_token)
    return JsonResponse(login_response(request, user), status=201)


def _user_json(user) -> dict:
    return {"id": str(user.pk), "email": user.email, "name": user.name, "isAdmin": user.is_admin,
            "oauthId": user.oauth_id, "storageLabel": user.storage_label,
            "quotaSizeInBytes": user.quota_size_in_bytes}


@api_methods("POST")
@api_login_required
def api_link(request):
    """POST /api/oauth/link {url}: attach the OAuth identity of a flow started by this session."""
    url, problem = _json_string(request, "url")
    if problem:
        return problem
    try:
        completed = _complete_from_url(request, url)
        oauth.link(request.user, completed.profile)
    except oauth.OAuthError as error:
        return _api_oauth_error(error)
    return JsonResponse(_user_json(request.user), status=201)


@api_methods("POST")
@api_login_required
def api_unlink(request):
    oauth.unlink(request.user)
    return JsonResponse(_user_json(request.user))


class _AppRedirect(HttpResponseRedirect):
    allowed_schemes = ["app.immich"]
    status_code = 307


@require_GET
def api_mobile_redirect(request):
    """GET /api/oauth/mobile-redirect: the mobile override's target, handing the answer to the app."""
    return _AppRedirect(oauth.mobile_app_redirect(request.META.get("QUERY_STRING", "")))
