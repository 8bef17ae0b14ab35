"""Albums and who may do what with them (Immich's rules): the owner does everything; an editor adds their own
photos and removes the ones they added; a viewer only looks. A user sees the albums they own and those shared
with them. Every change that can move an original under the storage template queues its re-placement."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from media_app.models import Asset, SharedLink
from media_app.services import storage
from media_app.services.timeline import timeline_assets

from .. import signals
from ..models import Album, AlbumAsset, AlbumOrder, AlbumRole, AlbumUser

OWNER = "owner"
NAME_LIMIT = 500
# Immich's BulkIdErrorReason
DUPLICATE, NO_PERMISSION, NOT_FOUND = "duplicate", "no_permission", "not_found"


class AlbumError(Exception):
    """A refusal to show as it is; `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BulkResult:
    id: str
    success: bool
    error: str = ""

    def as_immich(self) -> dict:
        return {"id": self.id, "success": self.success, **({"error": self.error} if self.error else {})}


# --- Reading ---------------------------------------------------------------------------------------------


def _live(queryset):
    return queryset.filter(owner__deleted_at__isnull=True)


def visible_albums(user):
    """Owned and shared-with-me albums, newest first, with asset counts (trashed assets not counted)."""
    return (_live(Album.objects.filter(Q(owner=user) | Q(album_users__user=user))).distinct()
            .select_related("owner", "thumbnail")
            .annotate(asset_count=Count("assets", filter=Q(assets__deleted_at__isnull=True), distinct=True)))


def owned_albums(user):
    return visible_albums(user).filter(owner=user)


def shared_albums(user):
    """Albums shared with the user, and the user's own albums that are shared (Immich's `shared=true`)."""
    return visible_albums(user).filter(Q(album_users__user=user) | Q(owner=user, album_users__isnull=False))


def role_of(user, album: Album) -> str | None:
    """"owner", "editor", "viewer", or None for someone the album is not shared with."""
    if album.owner_id == user.pk:
        return OWNER
    member = album.album_users.filter(user=user).first()
    return member.role if member else None


def get_album(user, album_id) -> Album:
    """The album if the user may see it; AlbumError 404 otherwise (someone else's album is not found either)."""
    try:
        album = _live(Album.objects.select_related("owner", "thumbnail")).filter(pk=album_id).first()
    except (ValueError, TypeError):
        album = None
    if album is None or role_of(user, album) is None:
        raise AlbumError("Album not found", 404)
    return album


def _require(user, album: Album, *roles: str) -> str:
    role = role_of(user, album)
    if role not in roles:
        raise AlbumError("Only the album owner can do this." if roles == (OWNER,)
                         else "Viewers cannot change this album.", 403)
    return role


def album_assets(album: Album):
    """The album's assets still in their owners' timelines, in the album's order."""
    order = "local_taken_at" if album.order == AlbumOrder.ASC else "-local_taken_at"
    return (Asset.objects.filter(albums=album, deleted_at__isnull=True, owner__deleted_at__isnull=True)
            .order_by(order, "created_at", "id"))


def album_asset(user, album_id, asset_id) -> Asset:
    """One asset of an album the user may see (for its files); AlbumError 404 otherwise."""
    asset = album_assets(get_album(user, album_id)).filter(pk=asset_id).first()
    if asset is None:
        raise AlbumError("Asset not found in this album", 404)
    return asset


def cover(album: Album) -> Asset | None:
    if album.thumbnail_id and album.thumbnail.deleted_at is None:
        return album.thumbnail
    return album_assets(album).first()


def date_range(album: Album) -> tuple:
    """(start, end): when the album's oldest and newest photos were taken."""
    span = album_assets(album).aggregate(start=Min("taken_at"), end=Max("taken_at"))
    return span["start"], span["end"]


def members(album: Album):
    return album.album_users.select_related("user").order_by("added_at")


def albums_of_asset(asset) -> list[Album]:
    """The asset's albums, most recently created first, with their date ranges (for the storage template)."""
    albums = list(Album.objects.filter(assets=asset).order_by("-created_at"))
    for album in albums:
        album.start_date, album.end_date = date_range(album)
    return albums


def has_shared_link(album: Album) -> bool:
    return SharedLink.objects.filter(album=album).exists()


# --- Changing ----------------------------------------------------------------------------------------


def _clean_name(name) -> str:
    name = (name or "").strip()
    if not name:
        raise AlbumError("albumName: an album needs a name.")
    if len(name) > NAME_LIMIT:
        raise AlbumError(f"albumName: at most {NAME_LIMIT} characters.")
    return name


def _replace_originals(asset_ids) -> None:
    """The album token of these assets' paths may have changed: re-place them (only when the template
    uses album tokens)."""
    storage.queue_placement_for_album_change(asset_ids)


@transaction.atomic
def create_album(owner, name: str, *, description: str = "", asset_ids=(), users=(), base_url: str = "") -> Album:
    """A new album, optionally with assets (the owner's own) and users ([(user_id, role)])."""
    album = Album.objects.create(owner=owner, name=_clean_name(name), description=description or "")
    if asset_ids:
        add_assets(owner, album, asset_ids, base_url=base_url)
    if users:
        add_users(owner, album, users, base_url=base_url)
    return album


def update_album(user, album: Album, *, name=None, description=None, thumbnail_id=None, order=None,
                 is_activity_enabled=None) -> Album:
    """Owner only. Only the given fields change."""
    _require(user, album, OWNER)
    renamed = name is not None and _clean_name(name) != album.name
    if name is not None:
        album.name = _clean_name(name)
    if description is not None:
        album.description = description
    if thumbnail_id is not None:
        asset = album_assets(album).filter(pk=thumbnail_id).first() if _is_uuid(thumbnail_id) else None
        if asset is None:
            raise AlbumError("albumThumbnailAssetId: the cover must be one of the album's assets.")
        album.thumbnail = asset
    if order is not None:
        if order not in AlbumOrder.values:
            raise AlbumError(f"order: must be one of {', '.join(AlbumOrder.values)}.")
        album.order = order
    if is_activity_enabled is not None:
        album.is_activity_enabled = bool(is_activity_enabled)
    album.save()
    if renamed:
        _replace_originals(album.assets.values_list("pk", flat=True))
    return album


def delete_album(user, album: Album) -> None:
    """Owner only; the assets stay (their album token may change)."""
    _require(user, album, OWNER)
    asset_ids = list(album.assets.values_list("pk", flat=True))
    album.delete()
    _replace_originals(asset_ids)


def _is_uuid(value) -> bool:
    try:
        Asset._meta.pk.to_python(value)
    except Exception:  # noqa: BLE001 (a malformed id is simply not found)
        return False
    return True


def add_assets(user, album: Album, asset_ids, *, base_url: str = "") -> list[BulkResult]:
    """Owner and editors add their own assets. One result per id, as Immich's BulkIdResponseDto. `base_url`:
    the server's address as the caller knows it, for the emails this sends."""
    _require(user, album, OWNER, AlbumRole.EDITOR)
    ids = [str(value) for value in dict.fromkeys(asset_ids)]
    valid = [value for value in ids if _is_uuid(value)]
    own = {str(pk) for pk in timeline_assets(user).filter(pk__in=valid).values_list("pk", flat=True)}
    present = {str(pk) for pk in album.album_assets.filter(asset_id__in=valid).values_list("asset_id", flat=True)}
    results, added = [], []
    for value in ids:
        if value in present:
            results.append(BulkResult(value, False, DUPLICATE))
        elif value not in own:
            results.append(BulkResult(value, False, NO_PERMISSION if value in valid and
                                      Asset.objects.filter(pk=value).exists() else NOT_FOUND))
        else:
            added.append(value)
            results.append(BulkResult(value, True))
    if added:
        with transaction.atomic():
            try:
                AlbumAsset.objects.bulk_create([AlbumAsset(album=album, asset_id=value, added_by=user)
                                                for value in added])
            except IntegrityError:  # added meanwhile by someone else: the same outcome
                pass
            if album.thumbnail_id is None:
                album.thumbnail_id = added[0]
            album.updated_at = timezone.now()
            album.save(update_fields=["thumbnail", "updated_at"])
        _replace_originals(added)
        signals.assets_added.send(sender=Album, album=album, by=user, asset_ids=added, base_url=base_url)
    return results


def remove_assets(user, album: Album, asset_ids) -> list[BulkResult]:
    """The owner removes any asset; an editor the assets they own."""
    role = _require(user, album, OWNER, AlbumRole.EDITOR)
    ids = [str(value) for value in dict.fromkeys(asset_ids)]
    rows = {str(row.asset_id): row for row in
            album.album_assets.select_related("asset").filter(asset_id__in=[v for v in ids if _is_uuid(v)])}
    results, removed = [], []
    for value in ids:
        row = rows.get(value)
        if row is None:
            results.append(BulkResult(value, False, NOT_FOUND))
        elif role != OWNER and row.asset.owner_id != user.pk:
            results.append(BulkResult(value, False, NO_PERMISSION))
        else:
            removed.append(value)
            results.append(BulkResult(value, True))
    if removed:
        album.album_assets.filter(asset_id__in=removed).delete()
        if album.thumbnail_id and str(album.thumbnail_id) in removed:
            album.thumbnail = album_assets(album).first()
        album.updated_at = timezone.now()
        album.save(update_fields=["thumbnail", "updated_at"])
        _replace_originals(removed)
    return results


def add_users(user, album: Album, users, *, base_url: str = "") -> Album:
    """Owner only: share with [(user_id, role)]; 400 for the owner, an unknown user, or one already in."""
    _require(user, album, OWNER)
    new = []
    for user_id, role in users:
        role = role or AlbumRole.EDITOR
        if role not in AlbumRole.values:
            raise AlbumError(f"role: must be one of {', '.join(AlbumRole.values)}.")
        target = get_user_model().objects.filter(pk=user_id, deleted_at__isnull=True).first() \
            if str(user_id).isdigit() else None
        if target is None:
            raise AlbumError(f"User {user_id} not found.")
        if target.pk == album.owner_id:
            raise AlbumError("Cannot be shared with owner")
        if album.album_users.filter(user=target).exists() or target in [t for t, _ in new]:
            raise AlbumError("User already added")
        new.append((target, role))
    with transaction.atomic():
        AlbumUser.objects.bulk_create([AlbumUser(album=album, user=target, role=role) for target, role in new])
        album.save(update_fields=["updated_at"])
    if new:
        signals.users_added.send(sender=Album, album=album, users=[target for target, _ in new], by=user,
                                 base_url=base_url)
    return album


def set_role(user, album: Album, user_id, role: str) -> None:
    _require(user, album, OWNER)
    if role not in AlbumRole.values:
        raise AlbumError(f"role: must be one of {', '.join(AlbumRole.values)}.")
    if not album.album_users.filter(user_id=user_id).update(role=role):
        raise AlbumError("User not found in this album.", 404)


def remove_user(user, album: Album, user_id) -> None:
    """The owner removes anyone shared with; a member may leave ("me" or their own id)."""
    target_id = user.pk if str(user_id) == "me" else user_id
    if str(target_id) == str(album.owner_id):
        raise AlbumError("Cannot remove album owner")
    if str(target_id) != str(user.pk):
        _require(user, album, OWNER)
    if not str(target_id).isdigit() or not album.album_users.filter(user_id=target_id).delete()[0]:
        raise AlbumError("Album not shared with user", 400)
