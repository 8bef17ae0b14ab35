"""The album pages: the albums list (mine and shared with me), an album's own timeline with its settings,
sharing and shared links, "add to album" from the timeline selection and the asset page, and the files of
an album's assets for the users it is shared with. Thin: albums_app.services decides."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from media_app.services import sharing
from media_app.services.timeline import decorate, group_by_day, timeline_assets
from media_app.views import FILE_SIZES, file_response, generated_file
from settings_app.services import get_config

from .models import AlbumOrder, AlbumRole
from .services import albums
from .services.albums import AlbumError


def _album_or_404(request, album_id):
    try:
        return albums.get_album(request.user, album_id)
    except AlbumError as error:
        raise Http404(str(error))


def _selected_ids(request) -> list[str]:
    return [value for value in request.POST.getlist("ids") if value]


def _share_candidates(user):
    """Who the sharing picker lists: everyone when Server → Public users is on (or for administrators)."""
    if not (get_config().server.publicUsers or user.is_admin):
        return []
    return get_user_model().objects.filter(deleted_at__isnull=True, is_active=True).exclude(pk=user.pk) \
        .order_by("name", "email")


@login_required
@require_GET
def album_list(request):
    mine = list(albums.owned_albums(request.user))
    shared = list(albums.visible_albums(request.user).exclude(owner=request.user))
    for album in mine + shared:
        album.cover_asset = albums.cover(album)
    return render(request, "albums_app/albums.html", {"mine": mine, "shared": shared})


@login_required
@require_POST
def album_create(request):
    try:
        album = albums.create_album(request.user, request.POST.get("name", ""),
                                    description=request.POST.get("description", ""))
    except AlbumError as error:
        messages.error(request, str(error))
        return redirect("albums:list")
    return redirect("albums:detail", album_id=album.id)


@login_required
@require_GET
def album_detail(request, album_id):
    album = _album_or_404(request, album_id)
    role = albums.role_of(request.user, album)
    assets = [decorate(asset) for asset in albums.album_assets(album)]
    start, end = albums.date_range(album)
    links = [(link, sharing.link_url(link, request)) for link in album.shared_links.all()] \
        if role == albums.OWNER else []
    return render(request, "albums_app/album.html", {
        "album": album, "role": role, "is_owner": role == albums.OWNER,
        "can_edit": role in (albums.OWNER, AlbumRole.EDITOR), "days": group_by_day(assets),
        "count": len(assets), "start": start, "end": end, "cover": albums.cover(album),
        "members": albums.members(album), "roles": AlbumRole.choices, "orders": AlbumOrder.choices,
        "candidates": _share_candidates(request.user) if role == albums.OWNER else [], "links": links,
    })


def _act(request, album_id, action, success: str = ""):
    """Run a change on the album, report a refusal as a message, come back to the album page."""
    album = _album_or_404(request, album_id)
    try:
        action(album)
    except AlbumError as error:
        messages.error(request, str(error))
    else:
        if success:
            messages.success(request, success)
    return redirect("albums:detail", album_id=album.id)


@login_required
@require_POST
def album_update(request, album_id):
    post = request.POST
    return _act(request, album_id, lambda album: albums.update_album(
        request.user, album, name=post.get("name"), description=post.get("description"),
        order=post.get("order") or None), "Album saved.")


@login_required
@require_POST
def album_cover(request, album_id):
    return _act(request, album_id, lambda album: albums.update_album(
        request.user, album, thumbnail_id=request.POST.get("asset_id", "")), "Cover set.")


@login_required
@require_POST
def album_delete(request, album_id):
    album = _album_or_404(request, album_id)
    try:
        albums.delete_album(request.user, album)
    except AlbumError as error:
        messages.error(request, str(error))
        return redirect("albums:detail", album_id=album.id)
    messages.success(request, f"Album “{album.name}” deleted; its photos stay in the timeline.")
    return redirect("albums:list")


@login_required
@require_POST
def album_remove_assets(request, album_id):
    def remove(album):
        done = sum(result.success for result in albums.remove_assets(request.user, album, _selected_ids(request)))
        messages.success(request, f"{done} removed from the album.")

    return _act(request, album_id, remove)


@login_required
@require_POST
def album_share(request, album_id):
    email = request.POST.get("email", "").strip().lower()
    target = get_user_model().objects.filter(email__iexact=email, deleted_at__isnull=True).first()

    def share(album):
        if target is None:
            raise AlbumError(f"No user with the email “{email}”.")
        albums.add_users(request.user, album, [(target.pk, request.POST.get("role") or AlbumRole.EDITOR)],
                         base_url=sharing.public_base_url(request))

    return _act(request, album_id, share, f"Shared with {email}.")


@login_required
@require_POST
def album_member_role(request, album_id, user_id):
    return _act(request, album_id, lambda album: albums.set_role(request.user, album, user_id,
                                                                 request.POST.get("role", "")), "Role changed.")


@login_required
@require_POST
def album_member_remove(request, album_id, user_id):
    album = _album_or_404(request, album_id)
    try:
        albums.remove_user(request.user, album, user_id)
    except AlbumError as error:
        messages.error(request, str(error))
        return redirect("albums:detail", album_id=album.id)
    if str(user_id) == str(request.user.pk):
        messages.success(request, f"You left “{album.name}”.")
        return redirect("albums:list")
    return redirect("albums:detail", album_id=album.id)


@login_required
@require_POST
def album_link(request, album_id):
    expires_at = None
    days = request.POST.get("expires_in_days", "").strip()

    def create(album):
        nonlocal expires_at
        if days:
            try:
                expires_at = timezone.now() + timedelta(days=float(days))
            except (ValueError, OverflowError):
                raise AlbumError("Expires in (days) must be a number.")
        try:
            sharing.create_album_link(request.user, album, expires_at=expires_at,
                                      password=request.POST.get("password", ""))
        except sharing.ShareError as error:
            raise AlbumError(str(error))

    return _act(request, album_id, create, "Shared link created.")


def _addable_albums(user):
    return [album for album in albums.visible_albums(user)
            if albums.role_of(user, album) in (albums.OWNER, AlbumRole.EDITOR)]


@login_required
@require_GET
def asset_panel(request, asset_id):
    """The asset page's albums box: the albums it is in that the user sees, and "Add to album"."""
    asset = get_object_or_404(timeline_assets(request.user), pk=asset_id)
    return render(request, "albums_app/asset_panel.html", {
        "asset": asset, "albums_of_asset": albums.visible_albums(request.user).filter(assets=asset),
        "addable": _addable_albums(request.user)})


@login_required
@require_POST
def add_selection(request):
    """The timeline's and the asset page's "Add to album": to an album the user may add to, or a new one
    (`new_name`). JSON {added, duplicates, album: {id, name, url}}; a plain form post (`redirect`) goes to
    the album instead."""
    ids = _selected_ids(request)
    as_page = bool(request.POST.get("redirect"))
    if not ids:
        return JsonResponse({"message": "Select at least one photo."}, status=400)
    try:
        if request.POST.get("new_name", "").strip():
            album = albums.create_album(request.user, request.POST["new_name"])
        else:
            album = albums.get_album(request.user, request.POST.get("album", ""))
        results = albums.add_assets(request.user, album, ids, base_url=sharing.public_base_url(request))
    except AlbumError as error:
        if as_page:
            messages.error(request, str(error))
            return redirect("media:asset", asset_id=ids[0])
        return JsonResponse({"message": str(error)}, status=error.status)
    if as_page:
        messages.success(request, f"Added to “{album.name}”.")
        return redirect("albums:detail", album_id=album.id)
    return JsonResponse({
        "added": sum(result.success for result in results),
        "duplicates": sum(result.error == albums.DUPLICATE for result in results),
        "album": {"id": str(album.id), "name": album.name, "url": album_url(album)},
    })


def album_url(album) -> str:
    return reverse("albums:detail", args=[album.id])


@login_required
@require_GET
def album_picker(request):
    """The albums the user may add photos to, for the "Add to album" picker."""
    rows = [{"id": str(album.id), "name": album.name, "count": album.asset_count}
            for album in _addable_albums(request.user)]
    return JsonResponse({"albums": rows})


@login_required
@require_GET
def album_file(request, album_id, asset_id, size):
    """A file of an album's asset, for anyone the album is shared with."""
    try:
        asset = albums.album_asset(request.user, album_id, asset_id)
    except AlbumError as error:
        raise Http404(str(error))
    if size == "original":
        return file_response(request, asset.original_path)
    if size not in FILE_SIZES:
        raise Http404("No such size.")
    return generated_file(request, asset, size)
