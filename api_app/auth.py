"""Who is calling the API, in Immich's order: an `x-api-key` header, an `Authorization: Bearer <accessToken>`
header, else the browser's session cookie. A header that is present but wrong is a 401 (never a silent
fall-back to the cookie). Header credentials cannot be sent by another site, so they need no CSRF token; a
cookie session's unsafe requests must carry it, as every POST of our own pages does.

Each class takes `admin=True` for the administrators-only endpoints: a signed-in non-administrator gets 403.
An API key must also hold the endpoint's permission (users_app.permissions; `signed_in(...)`/`admin(...)` name
it); endpoints that name none need an "all" key. Sessions and Bearer tokens are the user themself: every
permission."""

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer

from users_app.permissions import grants
from users_app.services import api_key_for, user_for_access_token

from .errors import ApiError

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class _Permission:
    def __init__(self, *, admin: bool = False, permission: str | None = None):
        self.admin = admin
        self.permission = permission
        super().__init__()

    def grant(self, request, user):
        if user is None:
            raise ApiError(401, "Invalid API key" if isinstance(self, ApiKeyAuth) else "Invalid user token")
        if self.admin and not user.is_admin:
            raise ApiError(403, "Forbidden")
        request.user = user  # services and views read request.user, whichever way the caller signed in
        return user


class ApiKeyAuth(_Permission, APIKeyHeader):
    param_name = "x-api-key"

    def authenticate(self, request, secret):
        if not secret:
            return None
        key = api_key_for(secret)
        user = self.grant(request, key.user if key else None)
        if not grants(key.permissions, self.permission):
            raise ApiError(403, f"Missing required permission: {self.permission or 'all'}")
        request.api_key = key  # the key endpoints (GET /api/api-keys/me, granting) need the caller's key
        return user


class BearerAuth(_Permission, HttpBearer):
    def authenticate(self, request, token):
        return self.grant(request, user_for_access_token(token)) if token else None


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering the reason of a refusal instead of a page."""

    def _reject(self, request, reason):
        return reason


def csrf_refusal(request) -> str:
    """Why this cookie-authenticated request fails the CSRF check ("" when it passes)."""
    check = _CsrfCheck(lambda request: None)
    request.csrf_processing_done = False
    check.process_request(request)
    return check.process_view(request, None, (), {}) or ""


class SessionAuth(_Permission, APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, **options):
        super().__init__(**options)
        self.csrf = False  # checked below, once the session is known to be signed in

    def authenticate(self, request, key):
        if not request.user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and (reason := csrf_refusal(request)):
            raise ApiError(403, f"CSRF check failed: {reason}")
        return self.grant(request, request.user)


def signed_in(permission: str | None = None, *, admin: bool = False) -> list:
    """The auth of an endpoint (ninja tries these in order until one answers a user); an API key must hold
    `permission`."""
    return [ApiKeyAuth(admin=admin, permission=permission), BearerAuth(admin=admin), SessionAuth(admin=admin)]


def admin(permission: str | None = None) -> list:
    return signed_in(permission, admin=True)


SIGNED_IN = signed_in()
ADMIN = admin()
