"""Access rules for pages: every dashboard page is for administrators only. Anonymous visitors go to the
login page; signed-in non-administrators get 403. (The API's rules are in api_app.auth.)"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
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
