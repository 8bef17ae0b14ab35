"""The Machine Learning settings page's "Test" button: ping each URL of the form (unsaved values) or, with
nothing posted, of the saved settings. Nothing is saved."""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from settings_app.kinds import validate_url
from settings_app.registry import KEYS_BY_PATH
from settings_app.services import get_config
from users_app.decorators import admin_required

from .client import check_urls

URLS_FIELD = KEYS_BY_PATH["machineLearning.urls"].column
TIMEOUT_FIELD = KEYS_BY_PATH["machineLearning.availabilityChecks.timeout"].column


@admin_required
@require_GET
def settings_extra(request):
    return render(request, "ml_client/settings_extra.html")


@admin_required
@require_POST
def test_urls(request):
    ml = get_config().machineLearning
    typed = request.POST.get(URLS_FIELD)
    urls = [line.strip() for line in typed.splitlines() if line.strip()] if typed is not None else list(ml.urls)
    errors = []
    for url in urls:
        try:
            validate_url(url)
        except ValidationError as error:
            errors.extend(error.messages)
    if not urls:
        errors.append("Enter at least one URL.")
    try:
        timeout = int(request.POST.get(TIMEOUT_FIELD) or ml.availabilityChecks.timeout)
    except ValueError:
        timeout = ml.availabilityChecks.timeout
    results = [] if errors else check_urls(urls, max(1, min(timeout, 60000)))
    return render(request, "ml_client/settings_extra.html#test-result", {"results": results, "errors": errors})
