"""The System Settings dashboard (server-rendered, htmx partials) and /custom.css.

Views only translate between HTTP and settings_app.services: what a form field looks like comes from the
registry and the category forms, what may be stored is decided by services.save_values."""

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs_app import services as jobs_services
from users_app.decorators import admin_required

from . import config_file, services, version_check
from .forms import CATEGORY_FORMS
from .kinds import CHOICES_NAMED_IN_FULL, Bool, Choice, CronNeverRuns, Float, Int, MultiChoice, UrlList, next_cron_runs
from .models import SettingChange
from .registry import CATEGORIES, CATEGORIES_BY_SLUG, KEYS_BY_PATH, Category, Key, Rerun

MAX_IMPORT_BYTES = 1_000_000
HISTORY_VALUE_CHARS = 200
MODEL_LIST_ROWS = 10
# Every job a settings change can make stale, addressable by the rerun buttons: (queue, force) -> Rerun.
RERUNS = {(key.rerun.queue, key.rerun.force): key.rerun for key in KEYS_BY_PATH.values() if key.rerun}
FORCE_FIELD = {True: "true", False: "false", None: "none"}
FORCE_VALUE = {text: value for value, text in FORCE_FIELD.items()}


@require_GET
def custom_css(request):
    """Theme → Custom CSS, served to every page (login included) and every user."""
    response = HttpResponse(services.get_config().theme.customCss, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@admin_required
@require_POST
def dismiss_release(request):
    """The header's "Dismiss" on "Version X is available": hidden for this administrator until a newer one."""
    version = request.POST.get("version", "").strip()
    if not version:
        return HttpResponseBadRequest("version: the version to dismiss is required.")
    version_check.dismiss(request.user, version)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("settings:index")
    return redirect(target)


# --- Presenting values -------------------------------------------------------------------------------


def _as_text(key: Key, value) -> str:
    """A value as the dashboard's script reads it back from the form (see static/js/settings.js), so
    that "unsaved change" is decided the same way on the server and in the browser."""
    kind = key.kind
    if isinstance(kind, Bool):
        return "true" if value else "false"
    if isinstance(kind, MultiChoice):
        return ",".join(sorted(str(item) for item in value or []))
    if isinstance(kind, UrlList):
        lines = value.splitlines() if isinstance(value, str) else value or []
        return "\n".join(line.strip() for line in lines if line.strip())
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n")


def _same(key: Key, first, second) -> bool:
    first, second = _as_text(key, first), _as_text(key, second)
    if isinstance(key.kind, Int | Float):
        try:
            return float(first) == float(second)
        except ValueError:
            pass
    return first == second


def _display(key: Key, value) -> str:
    """A value in words, for "Default: …", the history and the list of saved changes."""
    kind = key.kind
    if isinstance(kind, Bool):
        return "on" if value else "off"
    if isinstance(kind, Choice):
        labels = dict(kind.choices)
        items = value if isinstance(kind, MultiChoice) else [value]
        return ", ".join(str(labels.get(str(item), item)) for item in items or []) or "none"
    if isinstance(kind, UrlList):
        return ", ".join(value or []) or "none"
    if value is None or value == "":
        return "empty"
    unit = getattr(kind, "unit", "")
    return f"{value} {unit}" if unit else str(value)


def _short(text: str) -> str:
    return text if len(text) <= HISTORY_VALUE_CHARS else text[: HISTORY_VALUE_CHARS - 1] + "…"


def _filterable(key: Key) -> bool:
    """A long list of choices: shown as a list box with a filter above it."""
    return isinstance(key.kind, Choice) and not isinstance(key.kind, MultiChoice) and \
        len(key.kind.choices) > CHOICES_NAMED_IN_FULL


def _js_kind(key: Key) -> str:
    if key.secret:
        return "secret"
    return {Bool: "bool", MultiChoice: "multi", UrlList: "lines"}.get(
        type(key.kind), "number" if isinstance(key.kind, Int | Float) else "text"
    )


@dataclass
class CronPreview:
    runs: list[str] = field(default_factory=list)
    error: str = ""
    never: bool = False  # valid syntax, but no date matches (e.g. the 31st of February)
    timezone: str = settings.TIME_ZONE


def _cron_preview(expression: str) -> CronPreview:
    try:
        runs = next_cron_runs((expression or "").strip())
    except ValidationError as error:
        return CronPreview(error=error.messages[0], never=isinstance(error, CronNeverRuns))
    return CronPreview(runs=[f"{run:%a %d %b %Y, %H:%M}" for run in runs])


@dataclass
class FieldView:
    key: Key
    widget: SafeString
    edited: bool
    locked: bool
    saved_text: str
    default_text: str
    errors: list[str]
    secret_set: bool = False
    secret_typed: bool = False  # typed into a form that came back with errors: it must be typed again
    clear_secret: bool = False
    cron: CronPreview | None = None
    depends_on: Key | None = None  # the switch this field needs on (registry: Key.depends_on, FieldGroup.switch)
    blocked_by: Key | None = None  # the switch that is off now: the field is disabled, and says why

    @property
    def js_kind(self) -> str:
        return _js_kind(self.key)

    @property
    def is_group(self) -> bool:
        return isinstance(self.key.kind, MultiChoice)

    @property
    def filterable(self) -> bool:
        return _filterable(self.key)

    @property
    def is_cron(self) -> bool:
        return getattr(self.key.kind, "fmt", "") == "cron"


def _field_views(category: Category, current: dict, saved: dict, locked: frozenset, errors: dict,
                 clear_secrets: frozenset) -> list[FieldView]:
    # A secret's input always starts empty (PasswordInput never renders a value either).
    initial = {key.column: "" if key.secret else current[key.path] for key in category.keys}
    form = CATEGORY_FORMS[category.slug](initial=initial, locked=locked)
    views = []
    for key in category.shown_keys:
        is_locked = key.path in locked
        blocked_by = category.blocking_switch(key, current)
        key_errors = errors.get(key.path, [])
        described_by = [f"errors-{key.column}"] if key_errors else []
        described_by += [f"blocked-{key.column}"] if blocked_by else []
        attrs = {"aria-describedby": " ".join([*described_by, f"about-{key.column}"])}
        if key_errors:
            attrs["aria-invalid"] = "true"
        if blocked_by:
            attrs["disabled"] = True
        cron = None
        if getattr(key.kind, "fmt", "") == "cron":
            cron = _cron_preview(current[key.path])
            attrs.update({"autocomplete": "off", "spellcheck": "false", "list": f"presets-{key.column}"})
            if not is_locked:
                attrs.update({
                    "hx-get": _url("settings:cron-runs", key.column),
                    "hx-trigger": "input changed delay:300ms, change",
                    "hx-target": f"#cron-runs-{key.column}",
                    "hx-swap": "innerHTML",
                })
        if key.path == "theme.customCss":
            attrs["rows"] = 12
        if _filterable(key):
            attrs["size"] = MODEL_LIST_ROWS
        clear = key.secret and key.path in clear_secrets
        if key.secret:
            edited = clear  # a typed secret is never sent back, so the re-rendered field is empty
        else:
            edited = not is_locked and not blocked_by and not _same(key, current[key.path], saved[key.path])
        views.append(FieldView(
            key=key,
            widget=form[key.column].as_widget(attrs=attrs),
            edited=edited,
            locked=is_locked,
            saved_text="" if key.secret else _as_text(key, saved[key.path]),
            default_text=_display(key, key.default),
            errors=key_errors,
            secret_set=key.secret and bool(saved[key.path]),
            secret_typed=key.secret and bool(current[key.path]),
            clear_secret=clear,
            cron=cron,
            depends_on=category.dependency_of(key),
            blocked_by=blocked_by,
        ))
    return views


def _sections(category: Category, fields: list[FieldView]) -> list[dict]:
    """The fields in the category's foldable groups (one untitled section when it declares none)."""
    by_path = {field.key.path: field for field in fields}
    sections = []
    for group, keys in category.grouped_keys():
        members = [by_path[key.path] for key in keys]
        sections.append({
            "group": group,
            "id": f"section-{category.slug}-{len(sections) + 1}",
            "fields": members,
            "edited_count": sum(field.edited for field in members),
            "error_count": sum(bool(field.errors) for field in members),
        })
    return sections


def _url(name: str, *args) -> str:
    return reverse(name, args=args)


def _change_rows(changes) -> list[dict]:
    rows = []
    for change in changes:
        key = KEYS_BY_PATH.get(change.path)
        if key is None:  # a key removed from the registry since
            continue
        rows.append({
            "change": change,
            "key": key,
            "old": _short(_display(key, change.old_value)),
            "new": _short(_display(key, change.new_value)),
            "who": change.changed_by.email if change.changed_by else "the server",
            "can_revert": not key.secret,
        })
    return rows


def _panel(category: Category, *, values: dict | None = None, errors: dict | None = None,
           version: int | None = None, clear_secrets: frozenset = frozenset(), history: bool = False,
           **messages) -> dict:
    """Everything the category card shows. `values` are edited (unsaved) values by path; without them
    the form shows the saved values."""
    saved = services.get_config().flat()
    locked = services.locked_paths() & {key.path for key in category.keys}
    current = {key.path: "" if key.secret else saved[key.path] for key in category.keys}
    current.update({path: value for path, value in (values or {}).items() if path not in locked})
    if version is None:
        version = services.category_row(category.slug).version
    # Saved values that fail validation (stored before a rule existed, or written by hand) are shown
    # beside their fields, so that they can be fixed; edited values bring their own errors.
    invalid_saved = services.invalid_saved_values(category.slug) if values is None else {}
    fields = _field_views(category, current, saved, locked, {**invalid_saved, **(errors or {})}, clear_secrets)
    return {
        "category": category,
        "fields": fields,
        "sections": _sections(category, fields),
        "version": version,
        "locked_count": len(locked),
        "edited_count": sum(field.edited for field in fields),
        "errors": errors or {},
        "error_count": len(errors or {}),
        "invalid_saved_count": len(invalid_saved),
        "history": _change_rows(services.history(category.slug)) if history else None,
        "all_logins_off": not saved["passwordLogin.enabled"] and not saved["oauth.enabled"],
        **messages,
    }


def _matching_categories(query: str) -> list[dict]:
    """Categories whose title, subtitle or any key's label or path contains the query."""
    needle = query.strip().lower()
    rows = []
    for category in CATEGORIES:
        keys = [key.label for key in category.shown_keys if needle in key.label.lower() or needle in key.path.lower()]
        heading = f"{category.title}\n{category.subtitle}".lower()
        if not needle or needle in heading or keys:
            rows.append({"category": category, "matched_keys": [] if needle in heading else keys[:4]})
    return rows


def _page(request, panel: dict | None = None, *, status: int = 200, **extra):
    query = request.GET.get("q", "")
    return render(request, "settings_app/index.html", {
        "query": query,
        "categories": _matching_categories(query),
        "all_categories": CATEGORIES,
        "open_slug": panel["category"].slug if panel else "",
        "panel": panel,
        "config_file_path": settings.SETTINGS_CONFIG_FILE if config_file.in_use() else "",
        **extra,
    }, status=status)


def _show_panel(request, panel: dict, *, status: int = 200):
    """The category card alone for htmx, the whole page (with that card open) otherwise."""
    if request.htmx:
        return render(request, "settings_app/category.html", {"panel": panel}, status=status)
    return _page(request, panel, status=status)


def _category_or_404(slug: str) -> Category:
    try:
        return CATEGORIES_BY_SLUG[slug]
    except KeyError:
        raise Http404(f"No settings category “{slug}”.")


# --- Reading the submitted form ----------------------------------------------------------------------


def _posted_values(category: Category, data, locked: frozenset) -> dict:
    """{path: value} as a browser submits the form: a checkbox sends "on" or nothing (None; the form
    refuses anything else), multiple choices arrive as a list. Disabled fields are not submitted and not
    taken: locked ones, and those whose switch is off in this form (their saved values stay; a box left
    unticked is told apart from a disabled one by that switch)."""
    switches = services.get_config().flat()
    switches.update({key.path: bool(data.get(key.column)) for key in category.shown_keys
                     if isinstance(key.kind, Bool) and key.path not in locked})
    cleared = set(data.getlist("clear_secrets"))
    values = {}
    for key in category.shown_keys:
        sent = key.column in data or key.path in cleared
        if key.path in locked or (not sent and category.blocking_switch(key, switches)):
            continue
        if isinstance(key.kind, Bool):
            values[key.path] = data.get(key.column)
        elif isinstance(key.kind, MultiChoice):
            values[key.path] = data.getlist(key.column)
        else:
            values[key.path] = data.get(key.column, "")
    return values


def _posted_version(data) -> int | None:
    try:
        return int(data.get("version", ""))
    except ValueError:
        return None


def _would_disable_every_login(posted: dict) -> bool:
    """True when this save turns off the last way to log in through the web."""
    saved = services.get_config().flat()
    after = {**saved, **posted}
    logins_now = saved["passwordLogin.enabled"] or saved["oauth.enabled"]
    return logins_now and not after["passwordLogin.enabled"] and not after["oauth.enabled"]


# --- Pages ---------------------------------------------------------------------------------------------


@admin_required
@require_GET
def index(request):
    """The dashboard; ?isOpen=<slug> opens a category (Immich's deep link), ?q= filters the list."""
    if request.htmx and request.htmx.target == "category-list":
        return render(request, "settings_app/index.html#category-list",
                      {"categories": _matching_categories(request.GET.get("q", "")), "query": request.GET.get("q", "")})
    category = CATEGORIES_BY_SLUG.get(request.GET.get("isOpen", ""))
    return _page(request, _panel(category) if category else None)


@admin_required
@require_http_methods(["GET", "POST"])
def category_view(request, slug):
    """GET: the category card. POST: Save, Discard changes, Reset to default or a per-field reset."""
    category = _category_or_404(slug)
    if request.method == "GET":
        return _show_panel(request, _panel(category))

    locked = services.locked_paths()
    posted = _posted_values(category, request.POST, locked)
    version = _posted_version(request.POST)
    secret_paths = {key.path for key in category.keys if key.secret and key.path not in locked}
    clear = frozenset(path for path in request.POST.getlist("clear_secrets") if path in secret_paths)
    action = request.POST.get("action", "save")

    if action == "discard":
        return _show_panel(request, _panel(category, notice="Discarded your changes: showing the saved settings."))
    if action == "defaults" or action.startswith("reset:"):
        column = action.removeprefix("reset:")
        keys = [key for key in category.shown_keys
                if key.path not in locked and (action == "defaults" or key.column == column)]
        posted.update({key.path: key.default for key in keys})
        clear = clear | {key.path for key in keys if key.secret and services.secret_is_set(key.path)}
        notice = (f"Reset {keys[0].label} to its default" if action != "defaults" and keys
                  else "Reset settings to default") + ". Press Save to keep the change."
        return _show_panel(request, _panel(category, values=posted, version=version, clear_secrets=clear,
                                           notice=notice))
    if action != "save":
        return HttpResponseBadRequest(f"Unknown action “{action}”.")

    if (category.slug == "authentication" and request.POST.get("confirm") != "1"
            and _would_disable_every_login(posted)):
        return _show_panel(request, _panel(category, values=posted, version=version, clear_secrets=clear,
                                           confirm_logins_off=True))
    result = services.save_values(
        posted, user=request.user, source="dashboard", expected_versions={slug: version}, clear_secrets=clear,
        from_form=True,
    )
    if not result.ok:
        # A stale save is a 409 (scripts can tell; htmx is configured to swap it, see base.html).
        return _show_panel(request, _panel(category, values=posted, version=version, clear_secrets=clear,
                                           errors=result.errors, conflict=result.conflict),
                           status=409 if result.conflict else 200)
    return _show_panel(request, _panel(category, saved=True, saved_changes=_change_rows(result.changes),
                                       reruns=[_rerun_view(rerun) for rerun in result.reruns]))


def _rerun_view(rerun: Rerun) -> dict:
    return {"label": rerun.label, "queue": rerun.queue, "force": FORCE_FIELD[rerun.force]}


@admin_required
@require_GET
def cron_runs(request, column):
    """The next three runs of the cron expression being typed (or why it is not valid)."""
    key = next((key for key in KEYS_BY_PATH.values() if key.column == column), None)
    if key is None or getattr(key.kind, "fmt", "") != "cron":
        raise Http404("Not a cron setting.")
    return render(request, "settings_app/category.html#cron-runs",
                  {"cron": _cron_preview(request.GET.get(column, ""))})


@admin_required
@require_GET
def history(request, slug):
    category = _category_or_404(slug)
    if request.htmx:
        return render(request, "settings_app/category.html#history",
                      {"panel": {"category": category, "history": _change_rows(services.history(slug))}})
    return _page(request, _panel(category, history=True))


@admin_required
@require_POST
def revert(request, change_id):
    """Revert one history row, after confirmation (hx-confirm in the browser, a confirm step without JS)."""
    change = get_object_or_404(SettingChange, pk=change_id)
    category = _category_or_404(change.category)
    if request.POST.get("confirm") != "1":
        return _show_panel(request, _panel(category, history=True, revert_confirm=_change_rows([change])[0]))
    result = services.revert_change(change, user=request.user)
    if not result.ok:
        return _show_panel(request, _panel(category, history=True, revert_errors=result.messages()))
    return _show_panel(request, _panel(category, history=True, saved=True,
                                       saved_changes=_change_rows(result.changes),
                                       reruns=[_rerun_view(rerun) for rerun in result.reruns]))


@admin_required
@require_POST
def rerun(request):
    """Queue the job a saved change made stale (offered after such a save)."""
    job = RERUNS.get((request.POST.get("queue"), FORCE_VALUE.get(request.POST.get("force"), "?")))
    if job is None:
        return HttpResponseBadRequest("Unknown job.")
    try:
        message = jobs_services.start_queue(job.queue, job.force, user=request.user) or f"{job.label}: started."
        state = "started"
    except jobs_services.QueueBusy as busy:
        message, state = str(busy), "busy"
    except jobs_services.JobCommandError as refused:  # e.g. the feature the queue needs is switched off
        message, state = str(refused), "refused"
    if request.htmx:
        return render(request, "settings_app/category.html#rerun-result", {"message": message, "state": state})
    category = CATEGORIES_BY_SLUG.get(request.POST.get("slug", ""))
    return _page(request, _panel(category) if category else None, page_notice=message)


@admin_required
@require_GET
def export_config(request):
    """The effective config in Immich's shape, secrets blank, as Immich's "Export as JSON"."""
    response = JsonResponse(services.get_config().as_dict(), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="immich-config.json"'
    return response


@admin_required
@require_POST
def import_config(request):
    """Save an uploaded config in Immich's shape: every key it holds, all or nothing."""
    outcome = {"errors": [], "changes": [], "ignored": []}
    upload = request.FILES.get("config")
    document = None
    if upload is None:
        outcome["errors"] = ["Choose a JSON file to import."]
    elif upload.size > MAX_IMPORT_BYTES:
        outcome["errors"] = [f"The file is larger than {MAX_IMPORT_BYTES // 1000} kB."]
    else:
        try:
            document = json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            outcome["errors"] = [f"The file is not valid JSON: {error}."]
        else:
            if not isinstance(document, dict):
                outcome["errors"] = ["The file must hold a JSON object of settings sections (e.g. {\"trash\": {…}})."]
    if not outcome["errors"]:
        result = services.save_config(document, user=request.user, source="import")
        outcome["errors"] = result.messages() or ([result.conflict] if result.conflict else [])
        outcome["changes"] = _change_rows(result.changes)
        outcome["ignored"] = [path for path in config_file.flatten(document) if path not in KEYS_BY_PATH]
        outcome["done"] = result.ok
    if request.htmx:
        response = render(request, "settings_app/index.html#import-result", {"import_result": outcome})
        if outcome.get("done") and outcome["changes"]:
            response["HX-Trigger"] = "settings-imported"  # the open category card reloads its values
        return response
    return _page(request, None, import_result=outcome)
