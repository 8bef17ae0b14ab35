"""Login rules, read from the Authentication settings at every attempt (a change applies at once)."""

from django.contrib.auth import authenticate

from settings_app.services import get_config

PASSWORD_LOGIN_DISABLED = "Password login has been disabled"


class LoginRefused(Exception):
    pass


def password_login_enabled() -> bool:
    return get_config().passwordLogin.enabled


def login_with_password(request, email: str, password: str):
    """The user for these credentials, or LoginRefused with the reason to show."""
    if not password_login_enabled():
        raise LoginRefused(PASSWORD_LOGIN_DISABLED)
    user = authenticate(request, username=(email or "").strip().lower(), password=password)
    if user is None or user.deleted_at is not None:
        raise LoginRefused("Incorrect email or password")
    return user
