"""Access rules: every dashboard page and admin API endpoint is for administrators only. Anonymous
visitors go to the login page (pages) or get 401 (API); signed-in non-administrators get 403."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import render


def _is_admin(user) -> bool:
    return user.is_authenticated and user.is_active and user.is_admin


def admin_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not _is_admin(request.user):
            return render(request, "403.html", status=403)
        return view(request, *args, **kwargs)

    wrapper.admin_only = True
    return wrapper


def api_error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"message": message, "statusCode": status, **extra}, status=status)


def api_admin_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return api_error("Authentication required", 401, error="Unauthorized")
        if not _is_admin(request.user):
            return api_error("Forbidden", 403, error="Forbidden")
        return view(request, *args, **kwargs)

    wrapper.admin_only = True
    return wrapper


def api_login_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return api_error("Authentication required", 401, error="Unauthorized")
        return view(request, *args, **kwargs)

    return wrapper
