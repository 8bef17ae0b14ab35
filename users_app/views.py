from django import forms
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from settings_app.services import get_config

from .oauth import SESSION_ID_TOKEN, auto_launch, end_session_url, start_url
from .services import PASSWORD_LOGIN_DISABLED, LoginRefused, login_with_password, password_login_enabled, set_theme
from .throttle import Throttled, with_retry_after


class LoginForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, max_length=1024)


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
    from media_app.views import timeline  # every user's home is their timeline (admins keep the nav links)

    return timeline(request)


def login_view(request):
    config = get_config()
    if request.method == "GET" and auto_launch(request.GET):
        return redirect(start_url(request.GET.get("next", "")))
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    retry_after = None
    if request.method == "POST":
        if not password_login_enabled():
            error, status = PASSWORD_LOGIN_DISABLED, 401  # refused whatever was posted
        elif form.is_valid():
            try:
                user = login_with_password(request, form.cleaned_data["email"], form.cleaned_data["password"])
            except LoginRefused as refused:
                error, status = str(refused), 401
            except Throttled as locked:
                error, status, retry_after = str(locked), 429, locked.retry_after
            else:
                login(request, user)
                target = request.GET.get("next", "/")
                if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
                    target = "/"
                return redirect(target)
        else:
            status = 400
    page = render(
        request,
        "users_app/login.html",
        {
            "form": form,
            "error": error,
            "password_login": password_login_enabled(),
            "oauth": config.oauth,
            "welcome_message": config.server.loginPageMessage,
        },
        status=status,
    )
    return with_retry_after(page, retry_after)


@login_required
@require_POST
def theme_view(request):
    """The header's theme button: remember System, Light or Dark for this user and go back to the page."""
    try:
        set_theme(request.user, request.POST.get("theme", ""))
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return redirect(target)


@require_POST
def logout_view(request):
    id_token = request.session.get(SESSION_ID_TOKEN)  # set by an OAuth login: log out at the provider too
    logout(request)
    return redirect(end_session_url(id_token) or "login")
