"""Immich-compatible JSON API for logging in and API keys (`/api/auth/*`, `/api/api-keys`), a ninja Router
of the one API layer (api_app). Logging in is decided by users_app.services.login_with_password, as for
the login page."""

from datetime import datetime
from typing import Literal

from django.contrib.auth import login as start_session
from django.contrib.auth import logout as end_session
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpResponse
from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import Field, field_validator

from api_app.auth import SIGNED_IN, signed_in
from api_app.errors import ApiError

from . import permissions
from .models import ApiKey
from .services import LoginRefused, end_access_token, login_with_password
from .throttle import Throttled

API_KEY_NOT_FOUND = "API Key not found"
API_KEY_NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length

router = Router(tags=["Authentication", "API keys"])


# --- Login ------------------------------------------------------------------------------------------


class LoginCredentialDto(Schema):
    email: str
    password: str = Field(min_length=1)

    @field_validator("email")
    @classmethod
    def _an_email_address(cls, value: str) -> str:
        try:
            validate_email(value.strip())
        except DjangoValidationError:
            raise ValueError("email must be an email address.")
        return value


class LoginResponseDto(Schema):
    accessToken: str
    userId: str
    userEmail: str
    name: str
    isAdmin: bool
    profileImagePath: str
    shouldChangePassword: bool
    isOnboarded: bool


def login_response(request, user) -> dict:
    """Immich's LoginResponseDto: the session key is the access token (`Authorization: Bearer ...`)."""
    return {
        "accessToken": request.session.session_key,
        "userId": str(user.pk),
        "userEmail": user.email,
        "name": user.name,
        "isAdmin": user.is_admin,
        "profileImagePath": "",
        "shouldChangePassword": False,
        "isOnboarded": True,
    }


@router.post("/auth/login", response={201: LoginResponseDto}, url_name="api-login", summary="login")
def login(request, credentials: LoginCredentialDto):
    """{email, password} -> 201 with an accessToken (a session key, usable as `Authorization: Bearer
    <accessToken>`); the response also sets the session cookie.

    Needs no CSRF token because API clients log in without a cookie; the body must be application/json
    (api_app's parser), which a cross-site page cannot send without a CORS preflight (this server answers
    none), so no other site can log a visitor's browser in."""
    try:
        user = login_with_password(request, credentials.email, credentials.password)
    except LoginRefused as refused:
        raise ApiError(401, str(refused))
    except Throttled as locked:  # too many failures from this address: the password was not even checked
        raise ApiError(429, str(locked), headers={"Retry-After": str(locked.retry_after)})
    start_session(request, user)
    return Status(201, login_response(request, user))


def _bearer_token(request) -> str:
    authorization = request.headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""


@router.post("/auth/logout", auth=SIGNED_IN, url_name="api-logout", summary="logout")
def logout(request):
    """Ends the Bearer token's session, or the cookie session."""
    if token := _bearer_token(request):
        end_access_token(token)
    end_session(request)
    return {"successful": True, "redirectUri": reverse("login") + "?autoLaunch=0"}


# --- API keys ---------------------------------------------------------------------------------------


class ApiKeyUpdateDto(Schema):
    name: str | None = Field(None, max_length=API_KEY_NAME_MAX_LENGTH)
    permissions: list[str] | None = Field(None, min_length=1)

    @field_validator("permissions")
    @classmethod
    def _known_permissions(cls, value):
        unknown = [name for name in value or () if name not in permissions.KNOWN]
        if unknown:
            raise ValueError(f"Unknown permission{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: use "
                             "Immich's names (all, asset.read, asset.upload, user.read, ...).")
        return value


class ApiKeyCreateDto(ApiKeyUpdateDto):
    """Immich requires `permissions`; left out, the key gets "all" (what this server's older clients expect)."""


class ApiKeyResponseDto(Schema):
    id: str
    name: str
    createdAt: datetime
    updatedAt: datetime
    permissions: list[Literal[permissions.PERMISSIONS]]


class ApiKeyCreateResponseDto(ApiKeyResponseDto):
    secret: str
    apiKey: ApiKeyResponseDto


def _api_key_json(key: ApiKey) -> dict:
    """Immich's APIKeyResponseDto: never the secret (only its hash is stored anyway)."""
    return {
        "id": str(key.pk),
        "name": key.name,
        "createdAt": key.created_at,
        "updatedAt": key.updated_at,
        "permissions": key.permissions,
    }


def _check_grantable(request, wanted: list[str]) -> None:
    """A caller signed in with an API key can only hand out permissions that key holds, so a narrow key can
    neither mint a broader one nor widen itself (Immich GHSA-237r-x578-h5mv)."""
    caller = getattr(request, "api_key", None)
    if caller is not None and not permissions.can_grant(caller.permissions, wanted):
        missing = sorted(set(wanted) - set(caller.permissions))
        raise ApiError(403, f"Cannot grant permissions you do not have: {', '.join(missing)}")


@router.get("/api-keys", auth=signed_in("apiKey.read"), response=list[ApiKeyResponseDto], url_name="api-keys",
            summary="getApiKeys")
def api_keys(request):
    """The caller's own keys."""
    return [_api_key_json(key) for key in request.user.api_keys.order_by("created_at", "pk")]


@router.post("/api-keys", auth=signed_in("apiKey.create"), response={201: ApiKeyCreateResponseDto},
             url_name="api-keys", summary="createApiKey")
def create_api_key(request, body: ApiKeyCreateDto):
    """{name?, permissions} -> 201 with the secret, shown this once."""
    wanted = body.permissions or [permissions.ALL]
    _check_grantable(request, wanted)
    key, secret = ApiKey.issue(request.user, body.name or "API Key", wanted)
    described = _api_key_json(key)
    return Status(201, {**described, "secret": secret, "apiKey": described})


@router.get("/api-keys/me", auth=signed_in(permissions.ANY_KEY), response=ApiKeyResponseDto, url_name="api-key-me",
            summary="getMyApiKey")
def my_api_key(request):
    """The key the caller signed in with (the CLI reads its permissions); 403 for other sign-ins. Needs no
    permission: a key may always see its own."""
    if getattr(request, "api_key", None) is None:
        raise ApiError(403, "Not signed in with an API key")
    return _api_key_json(request.api_key)


def _own_key(request, key_id: str) -> ApiKey:
    key = request.user.api_keys.filter(pk=int(key_id)).first() if key_id.isdigit() else None
    if key is None:
        raise ApiError(400, API_KEY_NOT_FOUND)  # Immich's status for an unknown or someone else's key
    return key


@router.get("/api-keys/{key_id}", auth=signed_in("apiKey.read"), response=ApiKeyResponseDto, url_name="api-key",
            summary="getApiKey")
def api_key(request, key_id: str):
    return _api_key_json(_own_key(request, key_id))


@router.put("/api-keys/{key_id}", auth=signed_in("apiKey.update"), response=ApiKeyResponseDto,
            url_name="api-key", summary="updateApiKey")
def update_api_key(request, key_id: str, body: ApiKeyUpdateDto):
    key = _own_key(request, key_id)
    if body.name:
        key.name = body.name
    if body.permissions is not None:
        _check_grantable(request, body.permissions)
        key.permissions = body.permissions
    key.save()
    return _api_key_json(key)


@router.delete("/api-keys/{key_id}", auth=signed_in("apiKey.delete"), url_name="api-key", summary="deleteApiKey")
def delete_api_key(request, key_id: str):
    _own_key(request, key_id).delete()
    return HttpResponse(status=204)
