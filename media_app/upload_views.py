"""Uploads from the web page (many files, one request each so the page can show progress per file); Immich's
POST /api/assets for Immich clients is in media_app.api. Thin: the upload service decides everything."""

from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from .formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from .services.upload import store_upload


@login_required
@require_GET
def upload_page(request):
    accept = ",".join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS | {".xmp"}))  # sidecars go with their photo
    return render(request, "media_app/upload.html", {"accept": accept})


def client_timestamp(request, name: str) -> datetime | None:
    """A client-sent file date (ISO 8601, or milliseconds since the epoch as the page sends File.lastModified)."""
    value = (request.POST.get(name) or "").strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    parsed = parse_datetime(value) if value else None
    return parsed if parsed and parsed.tzinfo else None


@login_required
@require_POST
def upload_files(request):
    """The page's endpoint: every file in `files` (and `sidecar`, the XMP sidecar of a single file); answers
    one result per file."""
    files = request.FILES.getlist("files")
    if not files:
        return JsonResponse({"results": [], "message": "No file was sent (field “files”)."}, status=400)
    modified = client_timestamp(request, "lastModified")
    sidecar = request.FILES.get("sidecar") if len(files) == 1 else None
    results = [store_upload(request.user, uploaded, file_modified_at=modified, sidecar=sidecar).as_dict()
               for uploaded in files]
    return JsonResponse({"results": results})
