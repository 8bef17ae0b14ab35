"""Reading and saving system settings. Every writer (dashboard, API, config-file loader, import, revert,
management commands) goes through `save_values`; every reader goes through `get_config()`."""

import copy
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import config_file, events
from .forms import CATEGORY_FORMS
from .models import CATEGORY_MODELS, ConfigState, SettingChange
from .registry import CATEGORIES, CATEGORIES_BY_SLUG, CATEGORY_OF_PATH, KEYS_BY_PATH, Category, Rerun

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0  # how often a process checks whether another one saved settings
SECRET_MASK = "********"
SECRET_PLACEHOLDER_CHARACTERS = set("*•●∙·")


# --- Reading ---------------------------------------------------------------------------------------


class _Section:
    """A read-only view of one level of the nested config."""

    def __init__(self, data: dict):
        self._data = data

    def __getattr__(self, name):
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(name)
        return _Section(value) if isinstance(value, dict) else value

    def __eq__(self, other):
        return isinstance(other, _Section) and self._data == other._data


class Config(_Section):
    """The effective config, read-only, with attribute access in Immich's shape:
    `config.image.thumbnail.size`, or `config.get("image.thumbnail.size")`."""

    def __init__(self, flat: dict):
        super().__init__(nest(flat))
        self._flat = flat

    def get(self, path: str):
        return self._flat[path]

    def flat(self) -> dict:
        return dict(self._flat)

    def as_dict(self, hide_secrets: bool = True) -> dict:
        flat = dict(self._flat)
        if hide_secrets:
            for path in flat:
                if KEYS_BY_PATH[path].secret:
                    flat[path] = ""
        return nest(copy.deepcopy(flat))


def nest(flat: dict) -> dict:
    nested: dict = {}
    for path, value in flat.items():
        node = nested
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def default_values() -> dict:
    return {path: copy.deepcopy(key.default) for path, key in KEYS_BY_PATH.items()}


def defaults() -> Config:
    return Config(default_values())


def _normalize(values: dict) -> dict:
    """Immich's buildConfig normalisation: the external domain is reduced to its origin, and the target
    codecs are always accepted."""
    domain = values.get("server.externalDomain")
    if domain:
        parts = urlsplit(domain)
        values["server.externalDomain"] = f"{parts.scheme}://{parts.netloc}"
    for target, accepted in (("ffmpeg.targetVideoCodec", "ffmpeg.acceptedVideoCodecs"),
                             ("ffmpeg.targetAudioCodec", "ffmpeg.acceptedAudioCodecs")):
        if values[target] not in values[accepted]:
            values[accepted] = [*values[accepted], values[target]]
    return values


def config_with(values: dict, base: Config | None = None) -> Config:
    """The config as it would be with these (already validated) values over `base` (the defaults when
    None), normalised as a load is: what a preview of unsaved settings reads."""
    flat = (base.flat() if base is not None else default_values()) | values
    return Config(_normalize(flat))


def _stored_values() -> dict:
    """Values stored in the database, by path (defaults left out)."""
    stored = {}
    for category in CATEGORIES:
        row = CATEGORY_MODELS[category.slug].objects.filter(pk=1).first()
        if row is None:
            continue
        for key in category.keys:
            value = getattr(row, key.column)
            if value is not None:
                stored[key.path] = value
    return stored


def _load() -> Config:
    values = default_values()
    values.update(_stored_values())
    values.update(config_file.locked_values())
    return Config(_normalize(values))


class _Cache:
    lock = threading.RLock()
    config: Config | None = None
    token: str | None = None
    checked_at = 0.0


def _current_token() -> str:
    return ConfigState.objects.filter(pk=1).values_list("token", flat=True).first() or ""


def get_config() -> Config:
    """The effective config (defaults <- database <- config file), cached per process and re-read when
    another process saved, checked at most every REFRESH_SECONDS."""
    with _Cache.lock:
        if _Cache.config is None or time.monotonic() - _Cache.checked_at >= REFRESH_SECONDS:
            return refresh_config()
        return _Cache.config


def refresh_config() -> Config:
    """Re-read if the settings changed since the last look, then tell this process's listeners."""
    with _Cache.lock:
        token = _current_token()
        _Cache.checked_at = time.monotonic()
        if _Cache.config is not None and token == _Cache.token:
            return _Cache.config
        old, new = _Cache.config, _load()
        _Cache.config, _Cache.token = new, token
    if old is None:
        events.emit_init(new)
    elif old != new:
        events.emit_update(old, new)
    return new


def clear_config_cache() -> None:
    with _Cache.lock:
        _Cache.config, _Cache.token, _Cache.checked_at = None, None, 0.0


def locked_paths() -> frozenset[str]:
    return frozenset(config_file.locked_values())


def category_row(slug: str):
    return CATEGORY_MODELS[slug].objects.filter(pk=1).first() or CATEGORY_MODELS[slug](pk=1)


def unsaved_config(slug: str, data) -> tuple[Config | None, list[str]]:
    """The settings one dashboard form holds now (unsaved, as the browser posts it) over the saved ones, for
    "test" buttons that try settings before they are saved. Locked keys keep their value; a secret left empty
    keeps the stored one. (config, []) or (None, ["Field: problem", ...])."""
    form_class = CATEGORY_FORMS[slug]
    config = get_config()
    if not any(key.column in data for key in form_class.category.keys):
        return config, []
    locked = locked_paths()
    form = form_class(data, locked=locked, from_browser=True)
    if not form.is_valid():
        return None, [f"{form.fields[column].label}: {message}" if column in form.fields else message
                      for column, messages in form.errors.items() for message in messages]
    secrets = {key.path for key in form_class.category.keys if key.secret}
    typed = {path: value for path, value in form.values().items()
             if path not in locked and not (path in secrets and not value)}
    return config_with(typed, config), []


def secret_is_set(path: str) -> bool:
    return bool(get_config().get(path))


# --- Validating ------------------------------------------------------------------------------------


def _json_type_error(path: str, value) -> str | None:
    kind = KEYS_BY_PATH[path].kind
    if isinstance(value, bool) and bool not in kind.json_types:
        return f"Expected {kind.json_type_name}, got {str(value).lower()}."
    if not isinstance(value, kind.json_types):
        return f"Expected {kind.json_type_name}, got {type(value).__name__}."
    return None


def validate_values(values: dict, base: dict | None = None, from_form: bool = False) -> tuple[dict, dict]:
    """Validate values by path through the category forms, each category complete: keys not given take
    their value from `base` (default: the defaults). JSON values (API, file) are type-checked first;
    dashboard values (`from_form`) are what the browser submits. Returns (cleaned by path, errors by path)."""
    base_values = default_values()
    base_values.update(base or {})
    cleaned, errors = {}, {}
    for slug in dict.fromkeys(CATEGORY_OF_PATH[path].slug for path in values):
        category = CATEGORIES_BY_SLUG[slug]
        data = {}
        for key in category.keys:
            value = values.get(key.path, base_values[key.path])
            if not from_form and key.path in values and (problem := _json_type_error(key.path, value)):
                errors[key.path] = [problem]
            data[key.column] = value
        form = CATEGORY_FORMS[slug](data=data, from_browser=from_form)
        form_errors = {} if form.is_valid() else form.errors
        for key in category.keys:
            if key.column in form_errors and key.path not in errors:
                errors[key.path] = list(form_errors[key.column])
        if not form_errors:
            cleaned.update(form.values())
    return cleaned, errors


def invalid_saved_values(slug: str) -> dict:
    """Errors by path of a category's effective values that do not pass validation: stored before a rule
    was added, or written to the database by hand. Reading them never fails; saving the category
    refuses until they are fixed."""
    flat = get_config().flat()
    _, errors = validate_values({key.path: flat[key.path] for key in CATEGORIES_BY_SLUG[slug].keys}, base=flat)
    return errors


# --- Saving ----------------------------------------------------------------------------------------


@dataclass
class SaveResult:
    errors: dict = field(default_factory=dict)  # path -> [messages]
    changes: list = field(default_factory=list)  # SettingChange rows
    conflict: str = ""
    refused: str = ""  # a save refused as a whole (e.g. it would turn off every login method)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.conflict and not self.refused

    @property
    def reruns(self) -> list[Rerun]:
        return list(dict.fromkeys(KEYS_BY_PATH[c.path].rerun for c in self.changes if KEYS_BY_PATH[c.path].rerun))

    def messages(self) -> list[str]:
        return [f"{path}: {message}" for path, messages in self.errors.items() for message in messages]


def _locked_row(slug: str):
    model = CATEGORY_MODELS[slug]
    try:
        return model.objects.select_for_update().get(pk=1)
    except model.DoesNotExist:
        try:
            with transaction.atomic():
                return model.objects.create(pk=1)
        except IntegrityError:
            return model.objects.select_for_update().get(pk=1)


def config_versions() -> dict[str, int]:
    """Every category's version (bumped by each save that changes it), in registry order."""
    stored = {}
    for category in CATEGORIES:
        stored[category.slug] = (CATEGORY_MODELS[category.slug].objects.filter(pk=1)
                                 .values_list("version", flat=True).first() or 0)
    return stored


def conflict_message(seen_versions: dict[str, int]) -> str:
    """Why a save based on these category versions is refused, naming who changed what since."""
    since = Q()
    for slug, version in seen_versions.items():
        since |= Q(category=slug, category_version__gt=version)
    changes = SettingChange.objects.filter(since).select_related("changed_by").order_by("changed_at", "id")
    lines = [
        f"{KEYS_BY_PATH[c.path].label} ({c.path}) was changed by "
        f"{c.changed_by.email if c.changed_by else 'the server'} at "
        f"{timezone.localtime(c.changed_at):%Y-%m-%d %H:%M:%S}: {_show(c.old_value)} → {_show(c.new_value)}"
        for c in changes if c.path in KEYS_BY_PATH
    ]
    what_changed = "; ".join(lines) + ". " if lines else ""
    return (
        "Not saved: another administrator saved these settings after you opened them. "
        f"{what_changed}Discard your changes to load theirs, then edit again."
    )


NO_LOGIN_METHOD_LEFT = (
    "Not saved: this would turn off both password login and OAuth login, so nobody could log in (sessions "
    "already open keep working). Keep one of them enabled. If you are ever locked out, run "
    "`python manage.py enable_password_login` on the server."
)


def _has_login_method(config: Config) -> bool:
    return bool(config.passwordLogin.enabled or config.oauth.enabled)


def is_secret_placeholder(value) -> bool:
    """Empty, or only mask characters (••••, ****, the history's SECRET_MASK): not a new secret."""
    return not isinstance(value, str) or not value.strip() or set(value.strip()) <= SECRET_PLACEHOLDER_CHARACTERS


def _show(value) -> str:
    return '""' if value == "" else str(value)


def save_values(
    values: dict,
    *,
    user=None,
    source: str = "dashboard",
    expected_versions: dict[str, int] | None = None,
    clear_secrets: frozenset[str] = frozenset(),
    from_form: bool = False,
    keep_a_login_method: bool = False,
) -> SaveResult:
    """Validate and store values by path. All-or-nothing: any invalid value, locked key changed by the
    caller, config_validate refusal or stale version stores nothing.

    `values` may hold any subset of keys; the rest of each touched category keeps its current value.
    An empty or masked secret keeps the stored secret unless its path is in `clear_secrets`. With
    `keep_a_login_method`, a save that would turn off both password and OAuth login is refused (the API;
    the dashboard asks for confirmation instead)."""
    current = refresh_config()
    current_flat = current.flat()
    locked = locked_paths()
    result = SaveResult()

    cleaned, errors = validate_values(values, base=current_flat, from_form=from_form)
    result.errors.update(errors)
    # A locked key may be sent back unchanged (clients PUT the whole config), in any equivalent form.
    for path in locked.intersection(values):
        if path in cleaned and cleaned[path] != current_flat[path] and not KEYS_BY_PATH[path].secret:
            result.errors[path] = ["Set by the config file (SETTINGS_CONFIG_FILE); it cannot be changed here."]
    if result.errors:
        return result
    cleaned = {path: value for path, value in cleaned.items() if path not in locked}

    for path, value in list(cleaned.items()):
        if KEYS_BY_PATH[path].secret and is_secret_placeholder(value):
            # An empty field, "••••" or the mask a client got back never replaces the stored secret.
            cleaned[path] = "" if path in clear_secrets else current_flat[path]
    proposed = dict(current_flat)
    proposed.update(cleaned)
    new_config = Config(_normalize(proposed))
    for problem in events.validate(current, new_config):
        result.errors.setdefault(problem.path, []).append(problem.message)
    if result.errors:
        return result
    if keep_a_login_method and _has_login_method(current) and not _has_login_method(new_config):
        result.refused = NO_LOGIN_METHOD_LEFT
        result.errors = {"passwordLogin.enabled": ["Would be off while OAuth login is off too."],
                         "oauth.enabled": ["Would be off while password login is off too."]}
        return result

    changed = {path for path in cleaned if cleaned[path] != current_flat[path]}
    slugs = list(dict.fromkeys(CATEGORY_OF_PATH[path].slug for path in changed))
    with transaction.atomic():
        for slug in slugs:
            row = _locked_row(slug)
            seen = (expected_versions or {}).get(slug)
            if seen is not None and row.version != seen:
                result.conflict = conflict_message({slug: seen})
                transaction.set_rollback(True)
                return result
            _store(CATEGORIES_BY_SLUG[slug], row, cleaned, changed, current_flat, user, source, result)
        if slugs:
            ConfigState.objects.update_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    if slugs:
        # This process applies its own save at once; the others notice the new token within a second.
        # Should an enclosing transaction roll back, the token reverts and the next check reloads.
        refresh_config()
    return result


def _store(category: Category, row, cleaned, changed, current_flat, user, source, result: SaveResult) -> None:
    row.version += 1
    row.updated_at = timezone.now()
    row.updated_by = user if getattr(user, "pk", None) else None
    for key in category.keys:
        if key.path not in changed:
            continue
        value = cleaned[key.path]
        setattr(row, key.column, None if key.kind.is_empty(value) or value == key.default else value)
        old, new = current_flat[key.path], value
        if key.secret:
            old, new = (SECRET_MASK if old else ""), (SECRET_MASK if new else "")
        result.changes.append(
            SettingChange.objects.create(
                category=category.slug, path=key.path, old_value=old, new_value=new,
                changed_by=row.updated_by, category_version=row.version, source=source,
            )
        )
    row.save()


def save_config(nested: dict, *, user=None, source: str = "api", **options) -> SaveResult:
    """Save a config in Immich's nested shape (API PUT, import). Unknown keys are ignored, as Immich's
    schema strips them. `options` go to save_values."""
    flat = config_file.flatten(nested)
    return save_values({path: value for path, value in flat.items() if path in KEYS_BY_PATH},
                       user=user, source=source, **options)


def reset_values(paths, *, user=None, source="dashboard") -> SaveResult:
    return save_values({path: copy.deepcopy(KEYS_BY_PATH[path].default) for path in paths}, user=user,
                       source=source)


def revert_change(change: SettingChange, *, user=None) -> SaveResult:
    if KEYS_BY_PATH[change.path].secret:
        return SaveResult(errors={change.path: ["Secrets are not kept in the history and cannot be reverted."]})
    return save_values({change.path: change.old_value}, user=user, source="revert")


def history(slug: str, limit: int = 50):
    return SettingChange.objects.filter(category=slug).select_related("changed_by")[:limit]
