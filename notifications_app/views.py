"""The Notification settings page's extras (admins): a live preview of each email template as typed (unsaved),
and "Send test email" to the current administrator with the form's unsaved SMTP settings. Nothing is saved."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from media_app.services.sharing import public_base_url
from settings_app.registry import KEYS_BY_PATH
from settings_app.services import unsaved_config
from users_app.decorators import admin_required

from .services import mail
from .services.templates import KINDS

SETTINGS_SLUG = "notifications"
PREVIEWED = [kind for kind in KINDS.values() if kind.setting]


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
