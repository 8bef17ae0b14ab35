"""Immich's OAuth API (`/api/oauth/*`), a ninja Router of the one API layer (api_app). The work is done in
users_app.oauth."""

import logging
from typing import Annotated

from django.http import HttpResponseRedirect
from ninja import Router, Schema, Status
from pydantic import BeforeValidator

from api_app.auth import SIGNED_IN
from api_app.errors import ApiError
from settings_app.services import get_config

from . import oauth
from .api import login_response
from .oauth_views import start_oauth_session
from .services import user_admin_response
from .users_api import UserAdminResponseDto

log = logging.getLogger(__name__)

router = Router(tags=["Authentication"])


def _required_text(value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("Required, and must be a non-empty string.")
    return value.strip()


RequiredText = Annotated[str, BeforeValidator(_required_text)]


class OAuthConfigDto(Schema):
    redirectUri: RequiredText


class OAuthCallbackDto(Schema):
    url: RequiredText


def _oauth_refusal(error: oauth.OAuthError) -> ApiError:
    log.warning("OAuth API call failed (%s): %s", error.status, error.message)
    return ApiError(error.status, error.message)


# Public, like POST /api/auth/login: starting a flow only adds a pending flow to the caller's session.
@router.post("/oauth/authorize", response={201: dict}, url_name="api-oauth-authorize", summary="startOAuth")
def authorize(request, body: OAuthConfigDto):
    """{redirectUri} -> {url}; the pending flow is kept in the session cookie."""
    try:
        url = oauth.begin(request.session, body.redirectUri)
    except oauth.OAuthError as error:
        raise _oauth_refusal(error)
    return Status(201, {"url": url})


def _complete_from_url(request, url: str) -> oauth.Completed:
    config = get_config().oauth
    return oauth.complete(request.session, oauth.callback_params(oauth.resolve_redirect_uri(config, url)))


# Public: the body must be JSON (no cross-site form can send it) and the state must match a flow this very
# session started, so no other site can log a visitor in with its own code.
@router.post("/oauth/callback", response={201: dict}, url_name="api-oauth-callback", summary="finishOAuth")
def callback(request, body: OAuthCallbackDto):
    """{url} (the URL the provider redirected to) -> Immich's login response."""
    try:
        completed = _complete_from_url(request, body.url)
        user = oauth.user_for_profile(completed.profile)
    except oauth.OAuthError as error:
        raise _oauth_refusal(error)
    start_oauth_session(request, user, completed.id_token)
    return Status(201, login_response(request, user))


@router.post("/oauth/link", auth=SIGNED_IN, response={201: UserAdminResponseDto}, url_name="api-oauth-link",
             summary="linkOAuthAccount")
def link(request, body: OAuthCallbackDto):
    """{url}: attach the OAuth identity of a flow started by this session."""
    try:
        completed = _complete_from_url(request, body.url)
        oauth.link(request.user, completed.profile)
    except oauth.OAuthError as error:
        raise _oauth_refusal(error)
    return Status(201, user_admin_response(request.user))


@router.post("/oauth/unlink", auth=SIGNED_IN, response=UserAdminResponseDto, url_name="api-oauth-unlink",
             summary="unlinkOAuthAccount")
def unlink(request):
    oauth.unlink(request.user)
    return user_admin_response(request.user)


class _AppRedirect(HttpResponseRedirect):
    allowed_schemes = ["app.immich"]
    status_code = 307


@router.get("/oauth/mobile-redirect", url_name="api-oauth-mobile-redirect", summary="redirectOAuthToMobile")
def mobile_redirect(request):
    """The mobile override's target, handing the provider's answer to the app."""
    return _AppRedirect(oauth.mobile_app_redirect(request.META.get("QUERY_STRING", "")))
