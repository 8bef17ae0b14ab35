"""Users from the provider's profile: found by OAuth id or email, created when auto-register is on, with the
role, quota and storage label claims; linking and unlinking an account."""

import logging
import math
import re

from django.contrib.auth import get_user_model
from django.db import transaction

from settings_app.services import get_config

from ..models import GIB
from .common import AUTHENTICATION_FAILED, OAuthError

log = logging.getLogger(__name__)

# --- Users ------------------------------------------------------------------------------------------


def _claim(profile: dict, name: str):
    return profile.get(name) if name else None


def quota_bytes(value) -> int | None:
    """A storage quota claim in GiB (a number ≥ 0, or its text) as bytes; None when not usable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        gib = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(gib) or gib < 0:
        return None
    return int(gib * GIB)


def role_of(profile: dict, claim: str) -> str | None:
    value = _claim(profile, claim)
    return value if value in ("admin", "user") else None


def _storage_label(profile: dict, claim: str) -> str | None:
    """The storage label claim as a single safe folder name, or None (unusable or already taken)."""
    value = _claim(profile, claim)
    if not isinstance(value, str):
        return None
    label = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "", value).strip().lstrip(".")[:100]
    if not label:
        return None
    if get_user_model().objects.filter(storage_label=label).exists():
        log.warning("OAuth: storage label %r is already used by another user; the new user gets none", label)
        return None
    return label


def _display_name(profile: dict, email: str) -> str:
    full = f"{profile.get('given_name') or ''} {profile.get('family_name') or ''}".strip()
    name = profile.get("name") or full or profile.get("preferred_username") or email
    return str(name)[:200]


def _set_role(user, role: str) -> bool:
    is_admin = role == "admin"
    if user.is_admin == is_admin:
        return False
    user.is_admin = user.is_superuser = is_admin
    return True


def user_for_profile(profile: dict):
    """Immich's account linking: by subject, else by normalized email (refused when that user is linked
    to another subject), else a new user when auto register is on. The role claim, when present, sets
    admin or user at every login; storage label and quota claims apply to new users."""
    oauth = get_config().oauth
    subject = profile.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OAuthError("The provider's profile has no subject (sub).")
    email = profile.get("email")
    email = email.strip().lower() if isinstance(email, str) and email.strip() else ""
    users = get_user_model().objects
    role = role_of(profile, oauth.roleClaim)
    with transaction.atomic():
        user = users.filter(oauth_id=subject).first()
        if user is None and email:
            user = users.filter(email__iexact=email).first()
            if user is not None:
                if user.oauth_id and user.oauth_id != subject:
                    log.warning("OAuth login refused: %s is linked to another OAuth account", email)
                    raise OAuthError(f"{AUTHENTICATION_FAILED}: the account {email} is linked to another OAuth "
                                     "identity. An administrator can unlink it in the console.")
                user.oauth_id = subject
                user.save(update_fields=["oauth_id"])
        if user is None:
            if not oauth.autoRegister:
                log.warning("OAuth login refused: no user for %s/%s and auto register is off", subject, email)
                raise OAuthError(f"{AUTHENTICATION_FAILED}: there is no account for {email or subject} on this "
                                 "server, and new accounts are not created automatically (Auto register is off).")
            if not email:
                raise OAuthError("OAuth profile does not have an email address.")
            quota = quota_bytes(_claim(profile, oauth.storageQuotaClaim))
            if quota is None and oauth.defaultStorageQuota is not None:
                quota = int(oauth.defaultStorageQuota) * GIB
            user = users.create_user(
                email, None, name=_display_name(profile, email), oauth_id=subject, quota_size_in_bytes=quota,
                storage_label=_storage_label(profile, oauth.storageLabelClaim),
                is_admin=role == "admin", is_superuser=role == "admin",
            )
            log.info("OAuth: registered %s (%s)", email, subject)
            return user
        if not user.is_active or user.deleted_at is not None:
            raise OAuthError(f"{AUTHENTICATION_FAILED}: this account is disabled or scheduled for deletion.")
        if role and _set_role(user, role):
            user.save(update_fields=["is_admin", "is_superuser"])
            log.info("OAuth: %s is now %s (role claim)", user.email, role)
    return user


def link(user, profile: dict) -> None:
    """Immich's POST /oauth/link: attach this OAuth identity to a signed-in user."""
    subject = profile.get("sub")
    other = get_user_model().objects.filter(oauth_id=subject).exclude(pk=user.pk).first()
    if other is not None:
        raise OAuthError("This OAuth account has already been linked to another user.")
    user.oauth_id = subject
    user.save(update_fields=["oauth_id"])


def unlink(user) -> None:
    user.oauth_id = ""
    user.save(update_fields=["oauth_id"])
