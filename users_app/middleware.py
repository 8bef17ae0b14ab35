"""Immich clients authenticate API calls with an `x-api-key` header or `Authorization: Bearer <token>`
(the accessToken from POST /api/auth/login). Such requests carry no cookies, so CSRF does not apply."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from .models import ApiKey, hash_api_key

SESSION_STORE = import_module(settings.SESSION_ENGINE).SessionStore


def user_from_headers(request):
    api_key = request.headers.get("x-api-key")
    if api_key:
        key = ApiKey.objects.select_related("user").filter(key_hash=hash_api_key(api_key)).first()
        return key.user if key and key.user.is_active else AnonymousUser()
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        session = SESSION_STORE(session_key=authorization[7:].strip())
        user_id = session.get("_auth_user_id")
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None
        return user or AnonymousUser()
    return None


class ApiKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            user = user_from_headers(request)
            if user is not None:
                request.user = user
                request._dont_enforce_csrf_checks = True
        return self.get_response(request)
