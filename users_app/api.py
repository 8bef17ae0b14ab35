"""Immich-compatible JSON API for logging in and API keys (`/api/auth/*`, `/api/api-keys`), plus the small
JSON helpers every API view of the project uses (method check, body parsing, Immich's 400 shape).

Authentication: the session cookie (CSRF-protected, as any browser POST), `x-api-key`, or
`Authorization: Bearer <accessToken>`; ApiKeyMiddleware exempts the header-authenticated requests from CSRF.
"""

import json
from functools import wraps

from django.contrib.auth import login as start_session
from django.contrib.auth import logout as end_session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from .decorators import api_error, api_login_required
from .middleware import SESSION_STORE
from .models import ApiKey
from .services import LoginRefused, login_with_password
from .throttle import Throttled, with_retry_after

VALIDATION_FAILED = "Validation failed"
API_KEY_NOT_FOUND = "API Key not found"
# This server has no per-endpoint permission checks, so a narrower key would silently act as "all".
SUPPORTED_API_KEY_PERMISSIONS = ("all",)
API_KEY_NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length


# --- Helpers shared by the project's API views ------------------------------------------------------


def api_methods(*methods: str):
    """Answer other HTTP methods with a JSON 405 (Django's require_http_methods answers with no body)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = api_error(
                    f"Method {request.method} is not allowed on {request.path}; use {', '.join(methods)}.",
                    405, error="Method Not Allowed",
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class BadRequest(Exception):
    def __init__(self, response: JsonResponse):
        self.response = response


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_object_body(request) -> dict:
    """The request body as a JSON object, or BadRequest with a 400 saying what is wrong."""
    try:
        body = json.loads(request.body or b"", parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(api_error(f"The request body is not valid JSON: {error}", 400, error="Bad Request"))
    if not isinstance(body, dict):
        raise BadRequest(api_error("The request body must be a JSON object.", 400, error="Bad Request"))
    return body


def field_error(path, message: str) -> dict:
    """One entry of Immich's validation error list; `path` is a dotted key path or a list of names."""
    return {"path": path.split(".") if isinstance(path, str) else list(path), "message": message}


def validation_failed(errors: list[dict], message: str = VALIDATION_FAILED) -> JsonResponse:
    """Immich's 400: {message, errors: [{path: [...], message}], statusCode, error}."""
    return api_error(message, 400, error="Bad Request", errors=errors)


def too_many_requests(locked: Throttled) -> JsonResponse:
    """Immich's error shape with 429 and Retry-After (seconds until the lock-out ends)."""
    return with_retry_after(api_error(str(locked), 429, error="Too Many Requests"), locked.retry_after)


# --- Login ------------------------------------------------------------------------------------------


def _login_errors(body: dict) -> list[dict]:
    errors = []
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not email.strip():
        errors.append(field_error(["email"], "email is required and must be a string."))
    else:
        try:
            validate_email(email.strip())
        except ValidationError:
            errors.append(field_error(["email"], "email must be an email address."))
    if not isinstance(password, str) or not password:
        errors.append(field_error(["password"], "password is required and must be a string."))
    return errors


def _is_json_request(request) -> bool:
    return request.content_type == "application/json"


@csrf_exempt
@api_methods("POST")
def login(request):
    """POST /api/auth/login {email, password} -> 201 with an accessToken (a session key, usable as
    `Authorization: Bearer <accessToken>`); the response also sets the session cookie.

    Exempt from CSRF because API clients log in without a cookie; it only accepts application/json,
    which a cross-site page cannot send without a CORS preflight (this server answers none), so no
    other site can log a visitor's browser in."""
    if not _is_json_request(request):
        return api_error("Send the credentials as JSON (Content-Type: application/json).", 400, error="Bad Request")
    try:
        body = json_object_body(request)
    except BadRequest as bad:
        return bad.response
    if errors := _login_errors(body):
        return validation_failed(errors)
    try:
        user = login_with_password(request, body["email"], body["password"])
    except LoginRefused as refused:
        return api_error(str(refused), 401, error="Unauthorized")
    except Throttled as locked:
        return too_many_requests(locked)
    start_session(request, user)
    return JsonResponse(login_response(request, user), status=201)


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


def _bearer_token(request) -> str:
    authorization = request.headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""


@api_methods("POST")
@api_login_required
def logout(request):
    """POST /api/auth/logout: ends the Bearer token's session, or the cookie session."""
    if token := _bearer_token(request):
        SESSION_STORE(session_key=token).delete()
    end_session(request)
    return JsonResponse({"successful": True, "redirectUri": reverse("login") + "?autoLaunch=0"})


# --- API keys ---------------------------------------------------------------------------------------


def _api_key_json(key: ApiKey) -> dict:
    """Immich's APIKeyResponseDto: never the secret (only its hash is stored anyway)."""
    return {
        "id": str(key.pk),
        "name": key.name,
        "createdAt": key.created_at,
        "updatedAt": key.updated_at,
        "permissions": key.permissions,
    }


def _api_key_errors(body: dict) -> list[dict]:
    errors = []
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        errors.append(field_error(["name"], "name must be a string."))
    elif name and len(name) > API_KEY_NAME_MAX_LENGTH:
        errors.append(field_error(["name"], f"name must be at most {API_KEY_NAME_MAX_LENGTH} characters."))
    permissions = body.get("permissions")
    if permissions is None:
        return errors
    if not isinstance(permissions, list) or not all(isinstance(item, str) for item in permissions):
        errors.append(field_error(["permissions"], "permissions must be a list of strings."))
    elif set(permissions) != set(SUPPORTED_API_KEY_PERMISSIONS):
        errors.append(field_error(
            ["permissions"],
            'Only ["all"] is supported: this server does not restrict API keys to narrower permissions.',
        ))
    return errors


@api_methods("GET", "POST")
@api_login_required
def api_keys(request):
    """GET /api/api-keys: the caller's own keys. POST {name?, permissions?} -> 201 with the secret, shown
    this once."""
    if request.method == "GET":
        return JsonResponse([_api_key_json(key) for key in request.user.api_keys.order_by("created_at", "pk")],
                            safe=False)
    try:
        body = json_object_body(request)
    except BadRequest as bad:
        return bad.response
    if errors := _api_key_errors(body):
        return validation_failed(errors)
    key, secret = ApiKey.issue(request.user, body.get("name") or "API Key", list(SUPPORTED_API_KEY_PERMISSIONS))
    described = _api_key_json(key)
    return JsonResponse({**described, "secret": secret, "apiKey": described}, status=201)


@api_methods("GET", "PUT", "DELETE")
@api_login_required
def api_key(request, key_id: str):
    """GET / PUT {name?, permissions?} / DELETE (204) one of the caller's own keys."""
    key = request.user.api_keys.filter(pk=int(key_id)).first() if key_id.isdigit() else None
    if key is None:
        return api_error(API_KEY_NOT_FOUND, 400, error="Bad Request")
    if request.method == "DELETE":
        key.delete()
        return HttpResponse(status=204)
    if request.method == "PUT":
        try:
            body = json_object_body(request)
        except BadRequest as bad:
            return bad.response
        if errors := _api_key_errors(body):
            return validation_failed(errors)
        if body.get("name"):
            key.name = body["name"]
        key.save()
    return JsonResponse(_api_key_json(key))
