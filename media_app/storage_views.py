"""The Storage Template settings' tools (loaded into the settings page beside its form): the live preview
rendered by the mover's own code, the presets with their examples, the variables, a dry run of the typed
template and the last migration report."""

from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from settings_app.registry import KEYS_BY_PATH
from settings_app.services import get_config
from users_app.decorators import admin_required

from .models import StorageMigrationReport
from .services import storage
from .storage_template import PRESETS, TOKEN_GROUPS, sample_value

TEMPLATE_FIELD = KEYS_BY_PATH["storageTemplate.template"].column
FRAGMENT = "media_app/storage_template_tools.html"


def _typed_template(data) -> str:
    return data.get(TEMPLATE_FIELD, get_config().storageTemplate.template)


@admin_required
@require_GET
def tools(request):
    return render(request, FRAGMENT, {
        "field": TEMPLATE_FIELD,
        "presets": [(preset, storage.preview(preset, request.user).path) for preset in PRESETS],
        "groups": [(label, [(token, sample_value(token)) for token in tokens]) for label, tokens in TOKEN_GROUPS],
        "preview": storage.preview(_typed_template(request.GET), request.user),
        "report": StorageMigrationReport.objects.first(),
    })


@admin_required
@require_GET
def preview(request):
    """The preview of the template being typed (or why it cannot be used)."""
    return render(request, FRAGMENT + "#preview", {"preview": storage.preview(_typed_template(request.GET),
                                                                              request.user)})


@admin_required
@require_POST
def dry_run(request):
    """What a migration with the typed (possibly unsaved) template would move; nothing is touched."""
    template = _typed_template(request.POST)
    checked = storage.preview(template, request.user)
    result = None if checked.error else storage.dry_run(template)
    return render(request, FRAGMENT + "#dry-run", {"template": template, "checked": checked, "result": result})
