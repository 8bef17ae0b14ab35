"""Shared links: a selection of one owner's assets, or an album, shown to anyone with the link, optionally
until an expiry date and behind a password. The link uses the External domain setting when set, otherwise the
host the owner is browsing on."""

import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.urls import reverse
from django.utils import timezone

from settings_app.services import get_config
from users_app import throttle

from ..models import Asset, SharedLink
from .timeline import timeline_assets

SESSION_KEY = "shared_links_unlocked"


class ShareError(Exception):
    pass


def _new_link(owner, *, expires_at, password: str, description: str, **fields) -> SharedLink:
    if expires_at is not None and expires_at <= timezone.now():
        raise ShareError("The expiry date must be in the future.")
    return SharedLink.objects.create(key=secrets.token_urlsafe(32), owner=owner, description=description,
                                     expires_at=expires_at, password_hash=make_password(password) if password else "",
                                     **fields)


def create_link(owner, asset_ids, *, expires_at=None, password: str = "", description: str = "") -> SharedLink:
    assets = list(timeline_assets(owner).filter(pk__in=list(asset_ids)))
    if not assets:
        raise ShareError("Select at least one of your photos to share.")
    link = _new_link(owner, expires_at=expires_at, password=password, description=description)
    link.assets.set(assets)
    return link


def create_album_link(owner, album, *, expires_at=None, password: str = "", description: str = "") -> SharedLink:
    """A link to the album as it is at each visit (assets added later show too). Only the owner shares it."""
    if album.owner_id != owner.pk:
        raise ShareError("Only the album owner can share it through a link.")
    return _new_link(owner, expires_at=expires_at, password=password, description=description,
                     type=SharedLink.ALBUM, album=album)


def public_base_url(request) -> str:
    """The server's public address: the External domain setting, else the host the user is browsing on."""
    return (get_config().server.externalDomain or request.build_absolute_uri("/")).rstrip("/")


def link_url(link: SharedLink, request) -> str:
    return public_base_url(request) + reverse("media:share", args=[link.key])


def find_link(key: str) -> SharedLink | None:
    return SharedLink.objects.filter(key=key).select_related("owner").first()


def is_expired(link: SharedLink, now=None) -> bool:
    return link.expires_at is not None and link.expires_at <= (now or timezone.now())


def is_unlocked(link: SharedLink, session) -> bool:
    return not link.password_hash or link.key in session.get(SESSION_KEY, [])


def unlock_with_password(request, link: SharedLink, password: str) -> bool:
    """Open the link for this browser session when the password is right. Wrong passwords are counted per
    link and client address: throttle.Throttled (429) after repeated failures."""
    guess = throttle.attempt(request, throttle.SHARED_LINK, link.pk)
    throttle.check(guess)
    if not (link.password_hash and check_password(password, link.password_hash)):
        throttle.record_failure(guess)
        return False
    throttle.record_success(guess)
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), link.key]
    return True


def shared_assets(link: SharedLink):
    """What the link shows now: its assets still in the owner's timeline (trashed ones drop out); for an
    album, the album's assets now (editors' photos included)."""
    if link.type == SharedLink.ALBUM:
        return Asset.objects.filter(albums=link.album_id, deleted_at__isnull=True, owner__deleted_at__isnull=True)
    return timeline_assets(link.owner).filter(shared_links=link)


def shared_asset(link: SharedLink, asset_id) -> Asset | None:
    return shared_assets(link).filter(pk=asset_id).first()


def links_of(owner):
    return SharedLink.objects.filter(owner=owner).select_related("album").prefetch_related("assets")


def delete_link(owner, link_id) -> bool:
    """Revoke one of the owner's links; the assets themselves stay."""
    deleted, _ = SharedLink.objects.filter(owner=owner, pk=link_id).delete()
    return bool(deleted)
