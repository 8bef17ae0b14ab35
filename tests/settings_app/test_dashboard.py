"""The System Settings dashboard through the Django test client: every category renders every key, every
key saves, each kind of bad input is shown beside its field with nothing stored, reset / discard only fill
the form, search, cron previews. Safety rules (locks, conflicts, secrets, escaping) are in
test_dashboard_safety.py."""

import html
import re
import socket

import pytest
from aiosmtpd.controller import Controller

from settings_app.kinds import Bool, Choice, Float, Int, MultiChoice, Secret, Text, UrlList
from settings_app.models import SettingChange
from settings_app.registry import CATEGORIES, CATEGORIES_BY_SLUG, CATEGORY_OF_PATH, KEYS_BY_PATH
from settings_app.services import category_row, get_config, locked_paths, save_values

pytestmark = pytest.mark.django_db

BASE = "/admin/system-settings/"


# --- Helpers shared with test_dashboard_safety.py -------------------------------------------------------


def url(slug: str) -> str:
    return f"{BASE}{slug}/"


def form_data(slug: str, overrides: dict | None = None, **extra) -> dict:
    """What a browser posts for the category form showing the saved values, with `overrides` ({path:
    value}) typed in: unchecked checkboxes absent, multiple choices as lists, disabled fields absent (locked
    ones, and those whose switch is off, unless typed in `overrides` as a script may)."""
    overrides = overrides or {}
    config = get_config()
    category = CATEGORIES_BY_SLUG[slug]
    shown = {**config.flat(), **overrides}
    data = {"version": str(category_row(slug).version)}
    for key in category.keys:
        if key.path in locked_paths() or (key.path not in overrides and category.blocking_switch(key, shown)):
            continue
        value = overrides.get(key.path, "" if key.secret else config.get(key.path))
        if isinstance(key.kind, Bool):
            if value:
                data[key.column] = "on"
        elif isinstance(key.kind, MultiChoice):
            data[key.column] = [str(item) for item in value]
        elif isinstance(key.kind, UrlList):
            data[key.column] = "\n".join(value) if isinstance(value, list) else value
        else:
            data[key.column] = "" if value is None else str(value)
    data.update(extra)
    return data


def setting_html(response, column: str) -> str:
    """The markup of one field (label, control, errors, meta) in a rendered category."""
    content = response.content.decode()
    start = content.index(f'id="setting-{column}"')
    following = [i for i in (content.find('id="setting-', start + 1), content.find("</form>", start)) if i > 0]
    return content[start:min(following)]


def text_of(response) -> str:
    """The response as a reader sees it: entities decoded, runs of whitespace as one space."""
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def words_of(response) -> str:
    """The visible text: text_of without the markup."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text_of(response)))


def errors_of(response, column: str) -> list[str]:
    chunk = setting_html(response, column)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", chunk.split('class="field-errors"')[1])] \
        if 'class="field-errors"' in chunk else []


def content_before(response, column: str) -> str:
    content = response.content.decode()
    index = content.index(f'id="setting-{column}"')
    return content[content.rindex("<div", 0, index):index]


def field_marked_unsaved(response, column: str) -> bool:
    return "is-edited" in content_before(response, column) and (
        "data-unsaved-pill hidden" not in setting_html(response, column))


# Values that a form accepts, by kind (and by text format): (what is typed, what is then stored).
TEXT_SAMPLES = {
    "url": "https://tiles.example.com/style.json",
    "url?": "https://photos.example.com",
    "domain?": "https://photos.example.com",
    "scope": "openid email",
    "cron": "5 4 * * 1",
    "time": "01:30",
    "bitrate": "5M",
    "css": "body { color: #123456; }",
    "template": "{{y}}/{{MM}}/{{filename}}",
    "": "Changed text",
}


def valid_change(path: str):
    """A valid value different from the default, derived from the key's kind: (typed, stored)."""
    key = KEYS_BY_PATH[path]
    kind = key.kind
    if isinstance(kind, Bool):
        return (not key.default, not key.default)
    if isinstance(kind, MultiChoice):
        current = [str(item) for item in key.default]
        missing = [value for value in kind.values if value not in current]
        typed = [*current, missing[0]] if missing else current[:-1]
        return typed, [int(item) for item in typed] if kind.numeric else typed
    if isinstance(kind, Choice):
        other = next(value for value in kind.values if value != key.default)
        return other, other
    if isinstance(kind, Float):
        value = kind.min_value if kind.min_value != key.default else kind.max_value
        return str(value), value
    if isinstance(kind, Int):
        value = next(v for v in (kind.min_value, kind.min_value + 1) if v != key.default)
        return str(value), value
    if isinstance(kind, UrlList):
        urls = ["http://127.0.0.1:3003", "http://ml.internal:3003"]
        return "\n".join(urls), urls
    if isinstance(kind, Secret):
        return "s3cret-Value!", "s3cret-Value!"
    assert isinstance(kind, Text)
    return TEXT_SAMPLES[kind.fmt], TEXT_SAMPLES[kind.fmt]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _AcceptAll:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


@pytest.fixture
def smtp_port():
    """A real SMTP server on 127.0.0.1, for saves that verify the connection."""
    port = _free_port()
    controller = Controller(_AcceptAll(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def switches_to_enable(path: str) -> list[str]:
    """The switches, nearest first, that are off by default and disable the field of `path`."""
    category, values, switches = CATEGORY_OF_PATH[path], get_config().flat(), []
    while blocker := category.blocking_switch(KEYS_BY_PATH[path], values):
        switches.append(blocker.path)
        values[blocker.path] = True
    return switches


# Keys whose valid change needs company: other keys in the same save, or a confirmation.
def companions(path: str, request) -> tuple[dict, dict]:
    others, extra = own_companions(path, request)
    if not isinstance(KEYS_BY_PATH[path].kind, Bool) or valid_change(path)[0]:
        return others, extra
    # Unticking a box disabled while its switch is off cannot be told from not sending it: turn the
    # switch on in the same save, as an administrator would.
    for switch in switches_to_enable(path):
        switch_others, switch_extra = own_companions(switch, request)
        others, extra = {switch: True, **switch_others, **others}, {**switch_extra, **extra}
    return others, extra


def own_companions(path: str, request) -> tuple[dict, dict]:
    if path == "oauth.mobileOverrideEnabled":
        return {"oauth.mobileRedirectUri": "https://photos.example.com/oauth-callback"}, {}
    if path == "passwordLogin.enabled":
        return {}, {"confirm": "1"}
    if path == "notifications.smtp.enabled":
        port = request.getfixturevalue("smtp_port")
        return {"notifications.smtp.transport.host": "127.0.0.1", "notifications.smtp.transport.port": port}, {}
    return {}, {}


# --- Rendering -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", [category.slug for category in CATEGORIES])
def test_each_category_renders_every_key_with_allowed_values_and_default(admin_client, htmx_headers, slug):
    category = CATEGORIES_BY_SLUG[slug]
    response = admin_client.get(url(slug), **htmx_headers)
    assert response.status_code == 200
    content = text_of(response)
    assert "<html" not in content  # an htmx partial, not the page
    assert category.title in content and category.subtitle in content
    assert f'name="version" value="{category_row(slug).version}"' in content
    for key in category.shown_keys:  # the rest are API-only (tests/settings_app/test_job_settings_page.py)
        chunk = html.unescape(setting_html(response, key.column))
        assert key.label in chunk
        assert f'name="{key.column}"' in chunk
        assert f"Allowed: {key.kind.describe()}" in chunk
        assert "Default: " in chunk
        if key.help:
            assert key.help in chunk
        if not key.secret:
            assert "unsaved change" in chunk and "data-unsaved-pill hidden" in chunk
    for note in category.fixed_notes:
        assert note.label in content and note.reason in content
    for button in ("Save", "Reset to default", "Discard changes"):
        assert f">{button}</button>" in content


def test_the_page_lists_all_categories_and_is_open_deep_links(admin_client):
    response = admin_client.get(BASE)
    content = text_of(response)
    assert "<html" in content and "Choose a category" in content
    for category in CATEGORIES:
        assert category.title in content and category.subtitle in content

    response = admin_client.get(f"{BASE}?isOpen=video-transcoding")
    assert 'data-slug="video-transcoding"' in response.content.decode()
    assert 'name="ffmpeg_crf"' in response.content.decode()
    assert "<html" in text_of(admin_client.get(url("trash")))  # the category URL without htmx: the page


def test_defaults_are_shown_in_words(admin_client, htmx_headers):
    response = admin_client.get(url("image"), **htmx_headers)
    assert "Default: 250 px" in text_of(response)
    assert "Default: WebP" in setting_html(response, "image_thumbnail_format")
    assert "Default: off" in setting_html(response, "image_thumbnail_progressive")
    response = admin_client.get(url("authentication"), **htmx_headers)
    assert "Default: empty" in setting_html(response, "oauth_default_storage_quota")


def test_choices_are_selects_multichoice_checkboxes_and_url_lists_textareas(admin_client, htmx_headers):
    response = admin_client.get(url("video-transcoding"), **htmx_headers)
    assert "<select" in setting_html(response, "ffmpeg_preset")
    containers = setting_html(response, "ffmpeg_accepted_containers")
    assert containers.count('type="checkbox"') == 4 and containers.count("checked") == 3  # mov, mp4, ogg, webm
    response = admin_client.get(url("machine-learning"), **htmx_headers)
    assert "<textarea" in setting_html(response, "machine_learning_urls")
    assert "http://127.0.0.1:3003" in setting_html(response, "machine_learning_urls")


def test_job_settings_show_the_fixed_queues_disabled_with_the_reason(admin_client, htmx_headers):
    content = text_of(admin_client.get(url("job"), **htmx_headers))
    fixed = content[content.index("Facial Recognition concurrency"):]
    assert "Clustering (DBSCAN) is sequential." in fixed
    assert re.search(r'<input id="fixed-\d+" type="number" value="1" disabled>', fixed)


# --- Saving -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [key.path for category in CATEGORIES for key in category.shown_keys])
def test_every_key_saves_from_the_dashboard(admin_client, admin_user, htmx_headers, request, path):
    key = KEYS_BY_PATH[path]
    slug = CATEGORY_OF_PATH[path].slug
    typed, stored = valid_change(path)
    others, extra = companions(path, request)
    response = admin_client.post(url(slug), form_data(slug, {path: typed, **others}, **extra), **htmx_headers)
    assert response.status_code == 200
    content = text_of(response)
    assert "Settings saved" in content, re.findall(r'class="field-errors".*?</ul>', content, re.S)
    assert get_config().get(path) == stored
    change = SettingChange.objects.get(path=path)
    assert change.changed_by == admin_user and change.source == "dashboard"
    assert key.label in content  # listed among the changes
    assert f'name="version" value="{category_row(slug).version}"' in content  # fresh version for the next save
    if not key.secret:
        assert not field_marked_unsaved(response, key.column)


def test_an_unchecked_checkbox_saves_off_and_a_checked_one_on(admin_client, htmx_headers):
    data = form_data("trash")
    del data["trash_enabled"]  # what a browser sends for an unchecked box
    admin_client.post(url("trash"), data, **htmx_headers)
    assert get_config().trash.enabled is False
    admin_client.post(url("trash"), form_data("trash", {"trash.enabled": True}), **htmx_headers)
    assert get_config().trash.enabled is True


def test_multichoice_saves_the_checked_boxes(admin_client, htmx_headers):
    admin_client.post(url("video-transcoding"),
                      form_data("video-transcoding", {"ffmpeg.realtime.resolutions": ["480", "2160"]}), **htmx_headers)
    assert get_config().ffmpeg.realtime.resolutions == [480, 2160]


def test_saving_unchanged_settings_stores_nothing(admin_client, htmx_headers):
    response = admin_client.post(url("trash"), form_data("trash"), **htmx_headers)
    assert "No changes to save" in text_of(response)
    assert not SettingChange.objects.exists()


def test_enter_in_a_field_saves(admin_client, htmx_headers):
    """The first submit button (what Enter presses) is Save, not the first field's reset button."""
    content = admin_client.get(url("trash"), **htmx_headers).content.decode()
    form = content[content.index("<form"):]
    assert re.search(r'<button type="submit"[^>]*>', form).group(0).count('value="save"') == 1


# --- Bad input --------------------------------------------------------------------------------------------

BAD_INPUTS = [
    # (label of the case, path, typed, message expected beside the field)
    ("out of range", "image.thumbnail.size", "0", "Must be a whole number from 1 to 16384 px."),
    ("out of range (float)", "machineLearning.facialRecognition.minScore", "1.5", "Must be a number from 0.1 to 1."),
    ("wrong type", "trash.days", "thirty", "Must be a whole number from 0 to 36500 days."),
    ("wrong type (float)", "machineLearning.facialRecognition.maxDistance", "far", "Must be a number from 0.1 to 2."),
    ("bad cron", "backup.database.cronExpression", "0 25 * * *", "Invalid cron expression “0 25 * * *”"),
    ("bad cron (fields)", "library.scan.cronExpression", "every day", "use five fields"),
    ("bad URL", "map.lightStyle", "tiles.example.com/style", "“tiles.example.com/style” is not a valid http(s) URL."),
    ("bad URL in a list", "machineLearning.urls", "http://ml:3003\nftp://ml:21",
     "“ftp://ml:21” is not a valid http(s) URL."),
    ("required URL", "map.darkStyle", "", "Required: an http(s) URL."),
    ("unknown enum", "image.thumbnail.format", "gif", "“gif” is not allowed: must be one of jpeg, webp."),
    ("unknown enum (multi)", "ffmpeg.acceptedContainers", ["mov", "mkv"], "“mkv” is not allowed: must be any of"),
    ("over-long text", "oauth.buttonText", "x" * 101, "Must be at most 100 characters (it has 101)."),
    ("bad time", "nightlyTasks.startTime", "25:00", "“25:00” is not a time of day"),
    ("bad bitrate", "ffmpeg.maxBitrate", "fast", "“fast” is not a bitrate"),
    ("bad template", "storageTemplate.template", "{{nope}}/{{filename}}", "Invalid storage template"),
    ("css closing style", "theme.customCss", "a{}</style><script>alert(1)</script>", "Custom CSS may not contain"),
]


@pytest.mark.parametrize("path,typed,message", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_shown_beside_the_field_and_nothing_is_stored(admin_client, htmx_headers, path, typed, message):
    key = KEYS_BY_PATH[path]
    category = CATEGORY_OF_PATH[path]
    # A valid change to another key of the category rides along: it must not be stored either.
    other = next((k for k in category.keys if k.path != path and not k.secret and k.path not in (
        "passwordLogin.enabled", "oauth.mobileOverrideEnabled", "notifications.smtp.enabled")), None)
    version = category_row(category.slug).version
    edits = {path: typed, **({other.path: valid_change(other.path)[0]} if other else {})}
    data = form_data(category.slug, edits)
    response = admin_client.post(url(category.slug), data, **htmx_headers)

    assert response.status_code == 200  # htmx swaps the re-rendered card
    assert any(message in error for error in errors_of(response, key.column)), errors_of(response, key.column)
    assert errors_of(response, key.column)[0].startswith(key.label)  # the message names the field
    assert 'aria-invalid="true"' in setting_html(response, key.column)
    assert "Not saved: 1 field needs attention." in text_of(response)
    assert not SettingChange.objects.exists()
    assert category_row(category.slug).version == version
    assert get_config().get(path) == key.default
    if other:
        assert errors_of(response, other.column) == []
        assert field_marked_unsaved(response, other.column)  # the other edit is still in the form, unsaved
        assert get_config().get(other.path) == other.default
    if not isinstance(key.kind, Choice):
        assert html.escape(typed) in setting_html(response, key.column)  # the typed value stays, to be fixed


def test_several_bad_fields_are_all_reported(admin_client, htmx_headers):
    data = form_data("image", {"image.thumbnail.size": "0", "image.preview.quality": "101",
                               "image.colorspace": "cmyk"})
    response = admin_client.post(url("image"), data, **htmx_headers)
    assert "Not saved: 3 fields need attention." in text_of(response)
    assert errors_of(response, "image_preview_quality") == ["Preview quality: Must be a whole number from 1 to 100."]
    assert errors_of(response, "image_colorspace")
    assert not SettingChange.objects.exists()


def test_cross_field_rule_is_shown_beside_the_field(admin_client, htmx_headers):
    data = form_data("authentication", {"oauth.mobileOverrideEnabled": True, "oauth.mobileRedirectUri": ""})
    response = admin_client.post(url("authentication"), data, **htmx_headers)
    assert errors_of(response, "oauth_mobile_redirect_uri") == [
        "Mobile redirect URI: Must be a URL when the mobile redirect override is enabled."]
    assert get_config().oauth.mobileOverrideEnabled is False


def test_without_htmx_a_refused_save_renders_the_whole_page_with_the_errors(admin_client):
    response = admin_client.post(url("trash"), form_data("trash", {"trash.days": "-1"}))
    assert response.status_code == 200
    assert "<html" in text_of(response) and "Days in trash: Must be a whole number" in text_of(response)


# --- Reset to default, per-field reset, discard -----------------------------------------------------------


def test_reset_to_default_fills_the_form_with_defaults_without_saving(admin_client, admin_user, htmx_headers):
    save_values({"trash.days": 5, "trash.enabled": False}, user=admin_user)
    changes = SettingChange.objects.count()
    response = admin_client.post(url("trash"), form_data("trash", action="defaults"), **htmx_headers)
    assert 'value="30"' in setting_html(response, "trash_days")
    assert "checked" in setting_html(response, "trash_enabled")
    assert field_marked_unsaved(response, "trash_days") and field_marked_unsaved(response, "trash_enabled")
    assert "Reset settings to default. Press Save to keep the change." in text_of(response)
    assert "2 unsaved changes" in text_of(response)
    assert (get_config().trash.days, get_config().trash.enabled) == (5, False)
    assert SettingChange.objects.count() == changes

    # The defaults are saved by the Save that follows.
    admin_client.post(url("trash"), form_data("trash", {"trash.days": "30", "trash.enabled": True}), **htmx_headers)
    assert (get_config().trash.days, get_config().trash.enabled) == (30, True)


def test_per_field_reset_fills_only_that_default_and_keeps_other_edits(admin_client, admin_user, htmx_headers):
    save_values({"image.thumbnail.size": 400, "image.thumbnail.quality": 60}, user=admin_user)
    data = form_data("image", {"image.preview.size": "2000"}, action="reset:image_thumbnail_size")
    response = admin_client.post(url("image"), data, **htmx_headers)
    assert 'value="250"' in setting_html(response, "image_thumbnail_size")
    assert field_marked_unsaved(response, "image_thumbnail_size")
    assert 'value="60"' in setting_html(response, "image_thumbnail_quality")  # not reset
    assert not field_marked_unsaved(response, "image_thumbnail_quality")
    assert 'value="2000"' in setting_html(response, "image_preview_size")  # the other edit is kept
    assert field_marked_unsaved(response, "image_preview_size")
    assert "Reset Thumbnail resolution to its default" in text_of(response)
    assert get_config().image.thumbnail.size == 400


def test_discard_shows_the_saved_values_again(admin_client, admin_user, htmx_headers):
    save_values({"trash.days": 5}, user=admin_user)
    data = form_data("trash", {"trash.days": "99", "trash.enabled": False}, action="discard")
    response = admin_client.post(url("trash"), data, **htmx_headers)
    assert 'value="5"' in setting_html(response, "trash_days")
    assert "checked" in setting_html(response, "trash_enabled")
    assert not field_marked_unsaved(response, "trash_days")
    assert "Discarded your changes" in text_of(response)
    assert get_config().trash.days == 5


def test_an_edited_value_is_marked_unsaved_with_the_saved_value_for_the_script(admin_client, htmx_headers):
    response = admin_client.post(url("trash"), form_data("trash", {"trash.days": "-5"}), **htmx_headers)
    assert 'data-saved="30"' in setting_html(response, "trash_days")
    assert field_marked_unsaved(response, "trash_days")


# --- Search and cron previews -----------------------------------------------------------------------------


def _listed(response) -> list[str]:
    return re.findall(r'class="category-link[^"]*"\s+(?:aria-current="page"\s+)?data-slug="([^"]+)"',
                      response.content.decode())


@pytest.mark.parametrize("query,expected,absent", [
    ("Image", {"image"}, {"trash"}),                       # title
    ("folder structure", {"storage-template"}, {"image"}),  # subtitle
    ("clientSecret", {"authentication"}, {"server"}),      # key path
    ("welcome message", {"server"}, {"trash"}),            # key label
    ("THUMBNAIL", {"image", "job", "nightly-tasks"}, {"trash"}),
])
def test_search_filters_by_title_subtitle_and_keys(admin_client, query, expected, absent):
    for response in (admin_client.get(BASE, {"q": query}),  # without JS: the whole page
                     admin_client.get(BASE, {"q": query}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="category-list")):
        listed = set(_listed(response))
        assert expected <= listed and not (absent & listed), listed


def test_search_as_you_type_returns_only_the_list(admin_client):
    response = admin_client.get(BASE, {"q": "trash"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="category-list")
    content = text_of(response)
    assert content.strip().startswith('<nav id="category-list"') and "<html" not in content
    response = admin_client.get(BASE, {"q": "no such thing"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="category-list")
    assert "No setting matches “no such thing”." in text_of(response)


def test_search_names_the_matching_keys(admin_client):
    content = text_of(admin_client.get(BASE, {"q": "quota"}))
    assert "Default storage quota (GiB)" in content and "Sync quota usage" in content


def test_cron_fields_show_the_next_three_runs_in_the_server_timezone(admin_client, htmx_headers, settings):
    from settings_app.kinds import next_cron_runs

    response = admin_client.get(url("backup"), **htmx_headers)
    chunk = html.unescape(setting_html(response, "backup_database_cron_expression"))
    runs = [f"{run:%a %d %b %Y, %H:%M}" for run in next_cron_runs("0 02 * * *")]
    assert f"Next runs ({settings.TIME_ZONE}): " + " · ".join(runs) in chunk
    for value, label in CATEGORIES_BY_SLUG["backup"].keys[1].presets:
        assert f'data-cron-preset="{value}"' in chunk and label in chunk


def test_cron_preview_follows_what_is_typed(admin_client):
    from settings_app.kinds import next_cron_runs

    preview = f"{BASE}cron-runs/library_scan_cron_expression/"
    content = text_of(admin_client.get(preview, {"library_scan_cron_expression": "30 */6 * * *"}))
    assert " · ".join(f"{run:%a %d %b %Y, %H:%M}" for run in next_cron_runs("30 */6 * * *")) in content
    content = text_of(admin_client.get(preview, {"library_scan_cron_expression": "30 */6 * *"}))
    assert "Invalid cron expression “30 */6 * *”" in content and "Next runs" not in content
    assert admin_client.get(f"{BASE}cron-runs/trash_days/", {"trash_days": "1"}).status_code == 404
