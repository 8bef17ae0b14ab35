"""Integrity reports (/admin/integrity/): what the integrity checks found, with "check now" and the actions
on the findings; destructive actions ask for a confirmation first."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from jobs_app import services as jobs_services
from users_app.decorators import admin_required

from .models import IntegrityReport
from .services import integrity

SHOWN_PER_TYPE = 500
CHECK_JOBS = ("IntegrityMissingFiles", "IntegrityUntrackedFiles", "IntegrityChecksumFiles")
# action -> (what it does, asks for a confirmation first, the service)
ACTIONS = {
    "regenerate": ("Regenerate missing thumbnails and previews", False, integrity.regenerate_missing_derived),
    "trash": ("Move assets whose original is gone to the trash", True, integrity.trash_assets_with_missing_originals),
    "delete-untracked": ("Delete untracked files", True, integrity.delete_untracked_files),
}
DONE = {"regenerate": "Queued thumbnail generation for {} asset(s).",
        "trash": "Moved {} asset(s) to their owners' trash.",
        "delete-untracked": "Deleted {} untracked file(s)."}


def _page(request, confirm: str = ""):
    sections = []
    for key, title in IntegrityReport.TYPES:
        reports = IntegrityReport.objects.filter(type=key)
        sections.append({"type": key, "title": title, "count": reports.count(),
                         "reports": list(reports.select_related("asset__owner")[:SHOWN_PER_TYPE])})
    return render(request, "media_app/integrity.html", {
        "sections": sections, "shown_per_type": SHOWN_PER_TYPE, "confirm": confirm,
        "confirm_title": ACTIONS[confirm][0] if confirm else "",
        "missing_originals": IntegrityReport.objects.filter(type=IntegrityReport.MISSING_FILE,
                                                            file_kind="original").count(),
    })


@admin_required
@require_GET
def integrity_reports(request):
    return _page(request)


@admin_required
@require_POST
def integrity_check_now(request):
    queued = [name for name in CHECK_JOBS if jobs_services.enqueue("integrityCheck", name, dedupe_key=name)]
    messages.success(request, f"Queued: {', '.join(queued)}." if queued else "The checks are already queued.")
    return redirect("integrity:reports")


@admin_required
@require_POST
def integrity_action(request, action: str):
    if action not in ACTIONS:
        messages.error(request, f"Unknown action “{action}”.")
        return redirect("integrity:reports")
    _, needs_confirmation, service = ACTIONS[action]
    if needs_confirmation and request.POST.get("confirmed") != "yes":
        return _page(request, confirm=action)
    messages.success(request, DONE[action].format(service()))
    return redirect("integrity:reports")
