"""Errors under /api/ answer in Immich's JSON shape; pages keep Django's HTML."""

from django.http import JsonResponse
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
