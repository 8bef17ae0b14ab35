"""The one API layer: every /api/ endpoint is an operation of this NinjaAPI. Each app keeps its endpoints
in its own `api.py` as a ninja Router, registered below; this layer gives them request parsing (JSON objects
only), authentication and permissions (api_app.auth), Immich's error shapes (api_app.errors) and the
OpenAPI document at /api/spec.json (public, as Immich's)."""

import json

from django.http import JsonResponse
from django.views.decorators.http import require_GET
from ninja import NinjaAPI
from ninja.parser import Parser

from settings_app.version_check import project_version

from . import errors
from .errors import ApiError


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _lone_surrogate_at(value, path=()) -> tuple | None:
    """The path of the first string holding a lone UTF-16 surrogate ("\\ud800" escapes decode to one, and
    no database can store it), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _lone_surrogate_at(key) is not None:
            return (*path, key)
        if (found := _lone_surrogate_at(item, (*path, str(key)))) is not None:
            return found
    return None


class JsonObjectParser(Parser):
    """Request bodies are JSON objects sent as application/json (a cross-site form cannot send that without
    a CORS preflight, which this server never grants), strict JSON: no NaN, no lone surrogates."""

    def parse_body(self, request):
        if request.content_type != "application/json":
            raise ApiError(400, "Send the request body as JSON (Content-Type: application/json).")
        try:
            body = json.loads(request.body, parse_constant=_refuse_constant)
        except ValueError as error:  # UnicodeDecodeError included
            raise ApiError(400, f"The request body is not valid JSON: {error}")
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        if (path := _lone_surrogate_at(body)) is not None:
            raise errors.validation_failed(
                [errors.field_error(list(path), "Contains a lone surrogate (an unpaired \\ud800-\\udfff escape), "
                                                "which is not valid Unicode text.")],
                message="The request body contains text that is not valid Unicode.",
            )
        return body


api = NinjaAPI(
    title="Photo Server API (Immich-compatible)",
    version=project_version(),
    description="The Immich API subset this server implements: same paths, shapes and status codes.",
    urls_namespace="api",
    openapi_url="/spec.json",
    docs_url=None,  # Swagger UI would load scripts from a CDN; the spec alone is enough for client generators
    parser=JsonObjectParser(),
)
errors.install(api)

for module in ("users_app.api", "users_app.users_api", "users_app.oauth_api", "settings_app.api", "jobs_app.api",
               "media_app.api", "people_app.api", "albums_app.api", "notifications_app.api", "search_app.api"):
    api.add_router("", f"{module}.router")


@require_GET
def immich_discovery(request):
    """`/.well-known/immich`: where Immich's clients (the CLI, the mobile app) find this API."""
    return JsonResponse({"api": {"endpoint": "/api"}})
