"""The pages users see: timeline, asset view, trash, map and shared links, and the file responses behind
them and behind Immich's /api/assets/<id>/thumbnail and /original (media_app.api). Every page shows only
the signed-in user's assets; someone else's asset id answers 404."""

import mimetypes
import os
import re
from datetime import timedelta

import pydantic_core
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from settings_app.services import get_config
from users_app.throttle import Throttled, with_retry_after

from .models import Asset
from .services import memories, sharing
from .services import trash as trash_service
from .services.thumbnails import absolute
from .services.timeline import map_markers, timeline_page

FILE_SIZES = ("thumbnail", "preview", "fullsize")


def _selected_ids(request) -> list[str]:
    return [value for value in request.POST.getlist("ids") if value]


BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _read_range(stream, length: int):
    with stream:
        while length > 0:
            chunk = stream.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def file_response(request, path):
    """The file, honouring a single byte Range (browsers seek in videos with them)."""
    try:
        size = os.path.getsize(path)
        stream = open(path, "rb")
    except OSError:
        raise Http404("The file is missing.")
    content_type = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    match = BYTE_RANGE.match(request.headers.get("Range", ""))
    if match and any(match.groups()):
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # "bytes=-N": the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            stream.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        stream.seek(start)
        response = StreamingHttpResponse(_read_range(stream, end - start + 1), status=206, content_type=content_type)
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(stream, content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=86400"
    return response


def generated_file(request, asset: Asset, size: str):
    """The generated file of that size; fullsize falls back to the preview, as in Immich."""
    relative = {"thumbnail": asset.thumbnail_path, "preview": asset.preview_path,
                "fullsize": asset.fullsize_path or asset.preview_path}.get(size)
    if not relative:
        raise Http404("No such file for this asset.")
    return file_response(request, absolute(relative))


# --- Timeline -----------------------------------------------------------------------------------------


@login_required
@require_GET
def timeline(request):
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        number = 1
    context = {"page": timeline_page(request.user, number), "trash_enabled": get_config().trash.enabled}
    if request.htmx and number > 1:
        return render(request, "media_app/timeline.html#timeline-page", context)
    context["memories"] = [{"memory": memory, "years_ago": timezone.localdate().year - memory.year,
                            "assets": memories.visible_assets(memory)}
                           for memory in memories.current_for(request.user)]
    return render(request, "media_app/timeline.html", context)


@login_required
@require_POST
def delete_selection(request):
    """Delete the selected assets: to the trash, or permanently when asked (Ctrl+Delete) or when the trash
    is disabled — then only once the user confirmed that they are gone for good."""
    force = request.POST.get("force") == "1"
    permanent = force or not get_config().trash.enabled
    if permanent and request.POST.get("confirmed") != "1":
        return JsonResponse({"message": "The trash is disabled: these photos would be deleted permanently. "
                             "Confirm to delete them.", "needsConfirmation": True}, status=409)
    result = trash_service.delete_assets(request.user, _selected_ids(request), force=force)
    return JsonResponse({"trashed": result.trashed, "deleted": result.deleted})


@login_required
@require_POST
def share_selection(request):
    expires_at = None
    days = request.POST.get("expires_in_days", "").strip()
    if days:
        try:
            expires_at = timezone.now() + timedelta(days=float(days))
        except (ValueError, OverflowError):
            return JsonResponse({"message": "Expires in (days) must be a number."}, status=400)
    try:
        link = sharing.create_link(request.user, _selected_ids(request), expires_at=expires_at,
                                   password=request.POST.get("password", ""))
    except sharing.ShareError as error:
        return JsonResponse({"message": str(error)}, status=400)
    return JsonResponse({"url": sharing.link_url(link, request), "key": link.key})


# --- Asset view and files -----------------------------------------------------------------------------


@login_required
@require_GET
def asset_detail(request, asset_id):
    asset = get_object_or_404(Asset, pk=asset_id, owner=request.user)
    pin = [["", asset.latitude, asset.longitude]]  # no id: a plain pin, not a link to this very page
    config = get_config()
    # Real-time HLS (alpha): the page offers the master playlist; static/js/video-hls.js plays it with hls.js
    realtime = asset.is_video and config.ffmpeg.realtime.enabled
    hls_url = reverse("api:asset-hls-master", args=[asset.id]) if realtime else ""
    return render(request, "media_app/asset.html", {"asset": asset, "map": config.map, "pin": pin, "hls_url": hls_url})


def playback_path(asset: Asset):
    """The transcoded MP4 when there is one, else the original (Immich's video/playback)."""
    return absolute(asset.encoded_video_path) if asset.encoded_video_path else asset.original_path


# --- Trash --------------------------------------------------------------------------------------------


@login_required
@require_GET
def trash(request):
    config = get_config()
    now = timezone.now()
    items = [(asset, trash_service.days_left(asset, now, config.trash.days))
             for asset in trash_service.trashed_assets(request.user)]
    return render(request, "media_app/trash.html", {"items": items, "trash": config.trash})


@login_required
@require_POST
def trash_restore(request):
    trash_service.restore_assets(request.user, _selected_ids(request))
    return redirect("media:trash")


@login_required
@require_POST
def trash_delete(request):
    trash_service.delete_from_trash(request.user, _selected_ids(request))
    return redirect("media:trash")


@login_required
@require_POST
def trash_empty(request):
    trash_service.empty_trash(request.user)
    return redirect("media:trash")


# --- Map ----------------------------------------------------------------------------------------------


@login_required
@require_GET
def map_page(request):
    config = get_config()
    markers = map_markers(request.user) if config.map.enabled else []  # [id, lat, lon]: the page links them
    return render(request, "media_app/map.html", {"map": config.map, "marker_count": len(markers),
                                                  "markers_json": script_json(markers)})


def script_json(data) -> str:
    """JSON to inline in a <script type="application/json"> with Django's json_script escapes (no "<", ">"
    or "&" can end the element), written by pydantic's serializer: a map's tens of thousands of markers in
    a fraction of the json module's time."""
    text = pydantic_core.to_json(data).decode()
    return mark_safe(text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026"))


# --- Shared links ---------------------------------------------------------------------------------------


@login_required
@require_GET
def shared_links(request):
    links = [(link, sharing.link_url(link, request), sharing.is_expired(link))
             for link in sharing.links_of(request.user)]
    return render(request, "media_app/shared_links.html", {"links": links})


@login_required
@require_POST
def shared_link_delete(request, link_id):
    sharing.delete_link(request.user, link_id)
    return redirect("media:shared-links")


# --- Shared links (no login) --------------------------------------------------------------------------


def _open_link(request, key):
    link = sharing.find_link(key)
    if link is None:
        raise Http404("No such shared link.")
    return link


def shared_link(request, key):
    link = _open_link(request, key)
    if sharing.is_expired(link):
        return render(request, "media_app/share_expired.html", {"link": link}, status=410)
    error = ""
    status = 200
    retry_after = None
    if request.method == "POST":
        try:
            if sharing.unlock_with_password(request, link, request.POST.get("password", "")):
                return redirect("media:share", key=key)
            error, status = "Wrong password.", 401
        except Throttled as locked:
            error, status, retry_after = str(locked), 429, locked.retry_after
    if not sharing.is_unlocked(link, request.session):
        page = render(request, "media_app/share_password.html", {"link": link, "error": error}, status=status)
        return with_retry_after(page, retry_after)
    return render(request, "media_app/share.html", {"link": link, "assets": sharing.shared_assets(link)})


@require_GET
def shared_file(request, key, asset_id, size):
    link = _open_link(request, key)
    if sharing.is_expired(link):
        return render(request, "media_app/share_expired.html", {"link": link}, status=410)
    if not sharing.is_unlocked(link, request.session):
        raise Http404("Unlock the link first.")
    asset = sharing.shared_asset(link, asset_id)
    if asset is None or size not in (*FILE_SIZES, "original"):
        raise Http404("Not in this shared link.")
    if size == "original":
        return file_response(request, asset.original_path)
    return generated_file(request, asset, size)
