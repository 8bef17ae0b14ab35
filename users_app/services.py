"""Users: login rules (read from the Authentication settings at every attempt, so a change applies at
once), the operations behind the server CLI and the admin console, and delayed user deletion."""

import base64
import re
import secrets
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from settings_app.services import get_config, locked_paths, save_values

from . import throttle
from .models import ApiKey, Theme, hash_api_key

PASSWORD_LOGIN_DISABLED = "Password login has been disabled"
USER_DOES_NOT_EXIST = "User does not exist"


class LoginRefused(Exception):
    pass


class UserError(Exception):
    """A refusal whose message is shown as it is (command output, console message)."""


# --- Login -----------------------------------------------------------------------------------------


def password_login_enabled() -> bool:
    return get_config().passwordLogin.enabled


def login_with_password(request, email: str, password: str):
    """The user for these credentials, or LoginRefused with the reason to show; throttle.Throttled (429)
    after repeated failures from the client's address."""
    if not password_login_enabled():
        raise LoginRefused(PASSWORD_LOGIN_DISABLED)
    email = (email or "").strip().lower()
    guess = throttle.attempt(request, throttle.LOGIN, email)
    throttle.check(guess)
    user = authenticate(request, username=email, password=password)
    if user is None or user.deleted_at is not None:
        throttle.record_failure(guess)
        raise LoginRefused("Incorrect email or password")
    throttle.record_success(guess)
    return user


# Server CLI name -> the setting it switches.
LOGIN_METHOD_SETTINGS = {"password": "passwordLogin.enabled", "oauth": "oauth.enabled"}


def locked_message(path: str) -> str:
    return (
        f"{path} is set by the config file ({settings.SETTINGS_CONFIG_FILE}, SETTINGS_CONFIG_FILE) "
        "and cannot be changed here: edit the file and restart the server."
    )


def set_login_method(method: str, enabled: bool, *, user=None, source: str = "command") -> bool:
    """Turn password or OAuth login on or off through the settings service (so history records it).
    Returns whether anything changed; UserError when the config file locks the key."""
    path = LOGIN_METHOD_SETTINGS[method]
    if path in locked_paths():
        raise UserError(locked_message(path))
    if get_config().get(path) == enabled:
        return False
    result = save_values({path: enabled}, user=user, source=source)
    if not result.ok:
        raise UserError("; ".join(result.messages()) or result.conflict)
    return True


def no_login_method_left() -> bool:
    config = get_config()
    return not config.passwordLogin.enabled and not config.oauth.enabled


# --- Passwords and sessions ------------------------------------------------------------------------


def generate_password() -> str:
    """As Immich's CLI: 24 random bytes, base64, non-word characters stripped (about 30 characters)."""
    return re.sub(r"\W", "", base64.b64encode(secrets.token_bytes(24)).decode())


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def user_session_keys(user) -> list[str]:
    """Keys of the user's live sessions (browser logins and the API's Bearer tokens)."""
    store = _session_store()
    decoder = store()
    live = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    return [
        row.session_key for row in live.iterator()
        if str(decoder.decode(row.session_data).get(SESSION_KEY)) == str(user.pk)
    ]


def end_user_sessions(user) -> int:
    """Log the user out everywhere; returns how many sessions ended."""
    keys = user_session_keys(user)
    store = _session_store()
    for key in keys:
        store(session_key=key).delete()
    return len(keys)


def _keep_sessions_after_password_change(user) -> None:
    # Django ends a session whose stored password hash no longer matches; re-sign the user's sessions
    # with the new hash so that "keep existing sessions" really keeps them.
    store = _session_store()
    for key in user_session_keys(user):
        session = store(session_key=key)
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()


def set_password(user, password: str, *, end_sessions: bool) -> None:
    """Validate (ValidationError) and store a new password; end or keep the user's other sessions."""
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    if end_sessions:
        end_user_sessions(user)
    else:
        _keep_sessions_after_password_change(user)


# --- Administrators --------------------------------------------------------------------------------


def administrators():
    return get_user_model().objects.filter(is_admin=True, deleted_at__isnull=True).order_by("created_at", "pk")


def find_user(email: str):
    user = get_user_model().objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        raise UserError(USER_DOES_NOT_EXIST)
    return user


def find_admin(email: str | None = None):
    """The administrator whose password is reset: the only one, or the one with this email."""
    if email:
        user = find_user(email)
        if not user.is_admin:
            raise UserError(f"{user.email} is not an administrator.")
        return user
    admins = list(administrators())
    if not admins:
        raise UserError("There is no administrator. Create one with `manage.py ensure_admin`, or promote a user "
                        "with `manage.py grant_admin <email>`.")
    if len(admins) > 1:
        emails = ", ".join(admin.email for admin in admins)
        raise UserError(f"There are {len(admins)} administrators ({emails}); choose one with --email.")
    return admins[0]


def set_admin(email: str, is_admin: bool):
    """Grant or revoke the administrator role; returns the user. UserError "User does not exist"."""
    user = find_user(email)
    user.is_admin = user.is_superuser = is_admin
    user.save(update_fields=["is_admin", "is_superuser"])
    return user


def ensure_admin(email: str, password: str | None) -> tuple[object, str | None]:
    """Create the first administrator when there is none. Returns (admin, password) where password is the
    one just set (generated when not given), or None when an administrator already existed."""
    existing = administrators().first()
    if existing:
        return existing, None
    email = get_user_model().objects.normalize_email(email).lower()
    if get_user_model().objects.filter(email__iexact=email).exists():
        raise UserError(f"{email} exists but is not an administrator (or is scheduled for deletion). "
                        f"Run `manage.py grant_admin {email}`, or set ADMIN_EMAIL to another address.")
    password = password or generate_password()
    admin = get_user_model().objects.create_superuser(email, password, name="Administrator")
    return admin, password


# --- Users created and edited by an administrator (admin API) ------------------------------------------

# The storage label names a folder of the storage template.
STORAGE_LABEL_RE = re.compile(r"^[\w\- ]+$")


class UserFieldError(UserError):
    """A refused value: `field` is the API's name for it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _checked_profile(user, changes: dict) -> dict:
    """`changes` (model field names) checked against the rules the console applies; UserFieldError."""
    users = get_user_model().objects.exclude(pk=user.pk) if user.pk else get_user_model().objects.all()
    checked = dict(changes)
    if "email" in changes:
        email = get_user_model().objects.normalize_email((changes["email"] or "").strip()).lower()
        if not email:
            raise UserFieldError("email", "email must be an email address.")
        if users.filter(email__iexact=email).exists():
            raise UserFieldError("email", "User exists")
        checked["email"] = email
    if "storage_label" in changes:
        label = (changes["storage_label"] or "").strip() or None  # NULL, not "": the label is unique
        if label and not STORAGE_LABEL_RE.match(label):
            raise UserFieldError("storageLabel", "The storage label may contain only letters, digits, spaces, "
                                                 "“-” and “_” (it is used as a folder name).")
        if label and users.filter(storage_label=label).exists():
            raise UserFieldError("storageLabel", "Storage label already used by another user")
        checked["storage_label"] = label
    if changes.get("quota_size_in_bytes") is not None and changes["quota_size_in_bytes"] < 0:
        raise UserFieldError("quotaSizeInBytes", "quotaSizeInBytes must be 0 or more bytes (null: unlimited).")
    return checked


def _apply(user, changes: dict, password: str | None) -> None:
    for name, value in changes.items():
        setattr(user, name, value)
    if "is_admin" in changes:
        user.is_superuser = user.is_admin
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise UserFieldError("password", " ".join(error.messages))
        user.set_password(password)


def create_user(email: str, password: str, **fields):
    """A new user (fields in model names: name, is_admin, storage_label, quota_size_in_bytes, ...)."""
    user = get_user_model()(**{name: value for name, value in fields.items() if name != "email"})
    changes = _checked_profile(user, {"email": email, **fields})
    _apply(user, changes, password)
    user.save()
    return user


def update_user(user, changes: dict, password: str | None = None, *, by=None):
    """Change a user's profile (model field names) and, if given, password (their sessions stay)."""
    if by is not None and by.pk == user.pk and changes.get("is_admin") is False:
        raise UserFieldError("isAdmin", "You cannot remove your own administrator role.")
    _apply(user, _checked_profile(user, changes), password)
    user.save()
    if password is not None:
        _keep_sessions_after_password_change(user)
    return user


# Sent after an administrator creates a user (admin console or `POST /api/admin/users`), with `user=`,
# `password=` (as given at creation), `notify=` (the "notify" choice) and `base_url=` (External domain, or
# the request's scheme and host). The notifications app connects here to send the welcome email.
user_created = Signal()


# --- Delayed deletion ------------------------------------------------------------------------------

# Sent with `user=` just before a user is removed for good (nightly check or "Delete immediately"), inside
# the same transaction. The media app connects here to remove the user's assets and files; it must never
# delete files that belong to external libraries.
user_purging = Signal()


def delete_delay() -> timedelta:
    """User settings → Delete delay, read at every use so a change applies at the next run."""
    return timedelta(days=get_config().user.deleteDelay)


def deletion_due_at(user, delay: timedelta | None = None):
    """When a user scheduled for deletion will be removed for good (None if not scheduled)."""
    if user.deleted_at is None:
        return None
    return user.deleted_at + (delay if delay is not None else delete_delay())


def schedule_deletion(user, *, now=None, by=None):
    """Immich's "Delete": the user can no longer log in and is logged out everywhere; the nightly check
    removes them after the delete delay. Returns the due date."""
    if by is not None and by.pk == user.pk:
        raise UserError("You cannot delete your own account.")
    if user.deleted_at is None:
        user.deleted_at = now or timezone.now()
        # is_active mirrors "not deleted", so every login path (session, API key, OAuth) refuses the user.
        user.is_active = False
        user.save(update_fields=["deleted_at", "is_active"])
        end_user_sessions(user)
    return deletion_due_at(user)


def cancel_deletion(user) -> bool:
    """Restore a user scheduled for deletion; nothing was removed yet. Returns whether it was pending."""
    if user.deleted_at is None:
        return False
    user.deleted_at = None
    user.is_active = True
    user.save(update_fields=["deleted_at", "is_active"])
    return True


def purge_user(user) -> None:
    """Remove a user for good: their assets and files (through `user_purging`), sessions, API keys."""
    with transaction.atomic():
        user_purging.send(sender=type(user), user=user)
        end_user_sessions(user)
        user.delete()


def queue_immediate_deletion(user, *, by=None):
    """ "Delete immediately" (after the console's confirmation page): the user is blocked at once and a
    UserDelete job on the background queue removes them and their files right away. Returns the job."""
    from jobs_app.services import enqueue

    schedule_deletion(user, by=by)
    return enqueue("backgroundTask", "UserDelete", {"id": user.pk}, dedupe_key=f"UserDelete:{user.pk}")


def purge_scheduled_user(user_id) -> bool:
    """The UserDelete job: remove the user if their deletion is still scheduled (it may have been
    cancelled, or done already: the job is idempotent). Returns whether it removed them."""
    user = get_user_model().objects.filter(pk=user_id, deleted_at__isnull=False).first()
    if user is None:
        return False
    purge_user(user)
    return True


def delete_due_users(now=None) -> int:
    """The nightly user-delete check: remove users whose deletion was scheduled at least the delete delay
    ago (the delay is read now, so a changed delay applies at this run). Returns how many were removed."""
    cutoff = (now or timezone.now()) - delete_delay()
    due = get_user_model().objects.filter(deleted_at__isnull=False, deleted_at__lte=cutoff)
    count = 0
    for user in list(due):
        purge_user(user)
        count += 1
    return count


# --- API credentials (checked by api_app.auth) -------------------------------------------------------


def api_key_for(secret: str) -> ApiKey | None:
    """The API key of an `x-api-key` secret, with its (active) user, or None."""
    key = ApiKey.objects.select_related("user").filter(key_hash=hash_api_key(secret)).first()
    return key if key and key.user.is_active else None


def user_for_access_token(token: str):
    """The active user of an accessToken (a session key handed out by POST /api/auth/login), or None."""
    user_id = _session_store()(session_key=token).get(SESSION_KEY)
    return get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None


def end_access_token(token: str) -> None:
    _session_store()(session_key=token).delete()


def set_theme(user, theme: str) -> None:
    """Remember the colour scheme a user picked for the web pages (system, light or dark)."""
    if theme not in Theme.values:
        raise ValueError(f"theme: must be one of {', '.join(Theme.values)}, not “{theme}”.")
    user.theme = theme
    user.save(update_fields=["theme"])


# --- Immich's shapes of a user (UserResponseDto, UserAdminResponseDto) ----------------------------------


def user_response(user) -> dict:
    """What other users see of a user: Immich's UserResponseDto (album members, owners)."""
    return {"id": str(user.pk), "name": user.name, "email": user.email,
            "avatarColor": user.avatar_color or "primary", "profileImagePath": "",
            "profileChangedAt": user.created_at}  # no profile images here: the profile never changed


def user_admin_response(user) -> dict:
    """What the user and administrators see: Immich's UserAdminResponseDto."""
    return {
        **user_response(user), "isAdmin": user.is_admin, "shouldChangePassword": user.should_change_password,
        "storageLabel": user.storage_label, "quotaSizeInBytes": user.quota_size_in_bytes,
        "quotaUsageInBytes": user.quota_usage_in_bytes, "oauthId": user.oauth_id,
        "status": "deleted" if user.deleted_at else "active", "createdAt": user.created_at,
        "updatedAt": user.updated_at, "deletedAt": user.deleted_at, "license": None,
        "clusterGroupId": "",  # this server runs no cluster groups
    }
