"""The Notification settings page's extras (admins): a live preview of each email template as typed (unsaved),
and "Send test email" to the current administrator with the form's unsaved SMTP settings (nothing is saved).
And each user's own email preferences."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from media_app.services.sharing import public_base_url
from settings_app.registry import KEYS_BY_PATH
from settings_app.services import unsaved_config
from users_app.decorators import admin_required

from .models import EmailPreferences
from .services import mail
from .services.templates import KINDS

SETTINGS_SLUG = "notifications"
PREVIEWED = [kind for kind in KINDS.values() if kind.setting]
PREFERENCE_FIELDS = ("enabled", "album_invite", "album_update")


@admin_required
@require_GET
def settings_extra(request):
    kinds = [(kind, KEYS_BY_PATH[kind.setting].column) for kind in PREVIEWED]
    return render(request, "notifications_app/settings_extra.html", {"kinds": kinds})


@admin_required
@require_POST
def preview(request, name):
    kind = KINDS.get(name)
    if kind is None or not kind.setting:
        raise Http404("No such email template.")
    custom = request.POST.get(KEYS_BY_PATH[kind.setting].column, "")
    return render(request, "notifications_app/settings_extra.html#preview",
                  {"kind": kind, "email": mail.preview(name, custom), "custom": bool(custom.strip())})


@admin_required
@require_POST
def test_email(request):
    config, errors = unsaved_config(SETTINGS_SLUG, request.POST)
    result = None if errors else mail.send_test_email(config, request.user, public_base_url(request))
    return render(request, "notifications_app/settings_extra.html#test-result", {"result": result, "errors": errors})


@login_required
@require_http_methods(["GET", "POST"])
def account_preferences(request):
    """The user's own email choices (Immich's account settings → Notifications)."""
    saved = request.method == "POST"
    if saved:
        preferences = mail.set_preferences(request.user, **{name: request.POST.get(name) == "on"
                                                             for name in PREFERENCE_FIELDS})
    else:
        preferences = mail.preferences_of(request.user)
    fields = [(name, EmailPreferences._meta.get_field(name).help_text, getattr(preferences, name))
              for name in PREFERENCE_FIELDS]
    return render(request, "notifications_app/account.html", {"fields": fields, "saved": saved})
