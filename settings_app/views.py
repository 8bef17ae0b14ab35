from django.http import HttpResponse
from django.views.decorators.http import require_GET

from .services import get_config


@require_GET
def custom_css(request):
    """Theme → Custom CSS, served to every page (login included) and every user."""
    response = HttpResponse(get_config().theme.customCss, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


from django.shortcuts import render  # noqa: E402

from users_app.decorators import admin_required  # noqa: E402


@admin_required
def index(request):
    return render(request, "settings_app/index.html")
