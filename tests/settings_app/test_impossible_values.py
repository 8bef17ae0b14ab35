"""Values that parse but must be refused: crons that never fire (the 31st of February) or hold a range
written backwards, numbers in non-ASCII digits, checkbox values the form never sends. Each is refused by
every writer (dashboard, API, config file at start-up) through the one kind that validates it, and a
bad value already stored (written before the rule, or by hand) is shown with its error, never a 500."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from settings_app import kinds
from settings_app.models import CATEGORY_MODELS, SettingChange
from settings_app.registry import CATEGORY_OF_PATH, KEYS_BY_PATH
from settings_app.services import clear_config_cache, get_config, save_values

from .test_api_system_config import URL as API_URL
from .test_api_system_config import put, set_path
from .test_dashboard import BASE, errors_of, form_data, setting_html, text_of, url, words_of

ROOT = Path(__file__).resolve().parents[2]
CRON = "backup.database.cronExpression"
CRON_COLUMN = KEYS_BY_PATH[CRON].column

# (cron, what the refusal says)
BAD_CRONS = [
    ("0 0 31 2 *", "Never runs: no date in the next 5 years matches “0 0 31 2 *”."),
    ("0 0 30 2 *", "Never runs: no date in the next 5 years matches “0 0 30 2 *”."),
    ("0 0 1-0 * *", "Invalid cron expression “0 0 1-0 * *”: the day-of-month range “1-0” runs backwards; "
                    "write the smaller value first."),
]
BAD_CRON_IDS = [cron for cron, _ in BAD_CRONS]


def store_bypassing_validation(path: str, value) -> None:
    """Write a value straight into its column, as data from before a rule existed or a hand edit."""
    model = CATEGORY_MODELS[CATEGORY_OF_PATH[path].slug]
    model.objects.update_or_create(pk=1, defaults={KEYS_BY_PATH[path].column: value})
    clear_config_cache()


# --- The rule, in the cron kind --------------------------------------------------------------------------


@pytest.mark.parametrize("cron, message", BAD_CRONS, ids=BAD_CRON_IDS)
def test_the_cron_kind_refuses_impossible_and_backwards_crons(cron, message):
    with pytest.raises(kinds.ValidationError) as refused:
        kinds.validate_cron(cron)
    assert refused.value.messages == [message]


@pytest.mark.parametrize("cron, field", [
    ("5-1 * * * *", "minute"), ("0 23-1 * * *", "hour"), ("0 0 * dec-jan *", "month"),
    ("0 0 * * fri-mon", "day-of-week"), ("0 0 * * 1,6-2/2", "day-of-week"), ("0 0 * 12-1/3 *", "month"),
])
def test_a_range_written_backwards_is_refused_in_any_field(cron, field):
    with pytest.raises(kinds.ValidationError, match=f"the {field} range .* runs backwards"):
        kinds.validate_cron(cron)


@pytest.mark.parametrize("cron", [
    "0 0 29 2 *",  # the 29th of February: the next leap year is within 5 years
    "0 0 31 2 1",  # day-of-month OR day-of-week (Vixie cron): every Monday
    "0 0 L 2 *", "0 0 * * 5-7", "0 0 * jan-dec mon-fri", "*/15 1-5 1,15 * *", "0 02 * * *",
])
def test_crons_that_run_are_accepted(cron):
    kinds.validate_cron(cron)
    assert len(kinds.next_cron_runs(cron)) == 3


def test_impossible_crons_are_refused_fast():
    started = time.monotonic()
    for cron in ("0 0 31 2 *", "* * 30 2 *", "*/5 * 31 2,4,6,9,11 *", "0 0 * 2 1#5", "59 23 31 2 *"):
        with pytest.raises(kinds.CronNeverRuns):
            kinds.validate_cron(cron)
    assert time.monotonic() - started < 1.0


# --- Every writer refuses --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("cron, message", BAD_CRONS, ids=BAD_CRON_IDS)
def test_the_dashboard_refuses_the_cron_beside_the_field(admin_client, htmx_headers, cron, message):
    response = admin_client.post(url("backup"), form_data("backup", {CRON: cron}), **htmx_headers)
    assert errors_of(response, CRON_COLUMN) == [f"{KEYS_BY_PATH[CRON].label}: {message}"]
    assert "Not saved: 1 field needs attention." in text_of(response)
    assert get_config().get(CRON) == KEYS_BY_PATH[CRON].default
    assert not SettingChange.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("cron, message", BAD_CRONS, ids=BAD_CRON_IDS)
def test_the_api_refuses_the_cron_with_immichs_400(admin_client, cron, message):
    response = put(admin_client, set_path(admin_client.get(API_URL).json(), CRON, cron))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": CRON.split("."), "message": message}]
    assert get_config().get(CRON) == KEYS_BY_PATH[CRON].default


@pytest.mark.django_db
@pytest.mark.parametrize("cron, message", BAD_CRONS, ids=BAD_CRON_IDS)
def test_save_values_refuses_the_cron_for_every_other_writer(admin_user, cron, message):
    result = save_values({CRON: cron, "backup.database.keepLastAmount": 3}, user=admin_user, source="cli")
    assert result.errors == {CRON: [message]}
    assert get_config().backup.database.keepLastAmount != 3


@pytest.mark.django_db
def test_a_valid_cron_is_saved_by_the_dashboard_and_the_api(admin_client, htmx_headers):
    response = admin_client.post(url("backup"), form_data("backup", {CRON: "0 0 29 2 *"}), **htmx_headers)
    assert errors_of(response, CRON_COLUMN) == [] and get_config().get(CRON) == "0 0 29 2 *"
    assert put(admin_client, set_path(admin_client.get(API_URL).json(), CRON, "15 3 * * 1-5")).status_code == 200
    assert get_config().get(CRON) == "15 3 * * 1-5"


def start_up_with(tmp_path, document: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "SETTINGS_CONFIG_FILE": str(path)})


def test_a_config_file_with_impossible_crons_stops_start_up_listing_each(tmp_path):
    result = start_up_with(tmp_path, {
        "backup": {"database": {"cronExpression": "0 0 31 2 *"}},
        "library": {"scan": {"cronExpression": "0 0 1-0 * *"}},
    })
    assert result.returncode != 0
    assert "backup.database.cronExpression: Never runs: no date in the next 5 years matches “0 0 31 2 *”." \
        in result.stderr
    assert "library.scan.cronExpression: Invalid cron expression “0 0 1-0 * *”: the day-of-month range" \
        in result.stderr
    valid = start_up_with(tmp_path, {"backup": {"database": {"cronExpression": "0 0 30 4 *"}}})
    assert valid.returncode == 0, valid.stderr


# --- A bad value already stored never gives a 500 --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("cron, message", BAD_CRONS, ids=BAD_CRON_IDS)
def test_a_stored_impossible_cron_renders_with_its_error(admin_client, htmx_headers, cron, message):
    store_bypassing_validation(CRON, cron)

    page = admin_client.get(BASE, {"isOpen": "backup"})
    assert page.status_code == 200
    assert errors_of(page, CRON_COLUMN) == [f"{KEYS_BY_PATH[CRON].label}: {message}"]
    assert f'value="{cron}"' in setting_html(page, CRON_COLUMN)
    assert "1 saved value is not valid." in words_of(page)
    assert "Not saved" not in words_of(page)
    if "Never runs" in message:
        assert f"Next runs ({get_config_tz()}): never." in words_of(page)

    preview = admin_client.get(f"{BASE}cron-runs/{CRON_COLUMN}/", {CRON_COLUMN: cron})
    assert preview.status_code == 200
    assert message in words_of(preview)
    if "Never runs" in message:
        assert f"Next runs ({get_config_tz()}): never. {message}" in words_of(preview)


def get_config_tz() -> str:
    from django.conf import settings

    return settings.TIME_ZONE


@pytest.mark.django_db
def test_a_stored_bad_cron_must_be_fixed_to_save_its_category_then_it_saves(admin_client, htmx_headers):
    store_bypassing_validation(CRON, "0 0 31 2 *")
    kept = form_data("backup", {"backup.database.keepLastAmount": "4"})
    response = admin_client.post(url("backup"), kept, **htmx_headers)
    assert errors_of(response, CRON_COLUMN)[0].endswith("matches “0 0 31 2 *”.")
    assert get_config().backup.database.keepLastAmount != 4

    fixed = form_data("backup", {"backup.database.keepLastAmount": "4", CRON: "0 3 * * *"})
    response = admin_client.post(url("backup"), fixed, **htmx_headers)
    assert errors_of(response, CRON_COLUMN) == []
    assert (get_config().get(CRON), get_config().backup.database.keepLastAmount) == ("0 3 * * *", 4)
    assert "saved value" not in words_of(admin_client.get(url("backup"), **htmx_headers))


@pytest.mark.django_db
def test_a_stored_bad_value_does_not_block_other_categories_or_the_api_read(admin_client, admin_user):
    store_bypassing_validation(CRON, "0 0 30 2 *")
    assert admin_client.get(API_URL).json()["backup"]["database"]["cronExpression"] == "0 0 30 2 *"
    assert save_values({"trash.days": 9}, user=admin_user).ok
    assert get_config().trash.days == 9


# --- Numbers in ASCII digits only ------------------------------------------------------------------------

NON_ASCII_NUMBERS = ["٣", "３", "²", "۱۲", "1_000", "१०"]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", NON_ASCII_NUMBERS)
@pytest.mark.parametrize("path", ["trash.days", "oauth.defaultStorageQuota",
                                  "machineLearning.facialRecognition.maxDistance"])
def test_numbers_in_other_digits_are_refused_by_the_dashboard(admin_client, htmx_headers, path, typed):
    slug, key = CATEGORY_OF_PATH[path].slug, KEYS_BY_PATH[path]
    response = admin_client.post(url(slug), form_data(slug, {path: typed}), **htmx_headers)
    assert errors_of(response, key.column) == [f"{key.label}: Must be {key.kind.describe()}."]
    assert get_config().get(path) == key.default
    assert not SettingChange.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("typed", NON_ASCII_NUMBERS)
@pytest.mark.parametrize("path", ["trash.days", "image.thumbnail.quality", "machineLearning.facialRecognition.minScore",
                                  "oauth.defaultStorageQuota"])
def test_numbers_in_other_digits_are_refused_by_the_api(admin_client, path, typed):
    response = put(admin_client, set_path(admin_client.get(API_URL).json(), path, typed))
    assert response.status_code == 400
    assert [error["path"] for error in response.json()["errors"]] == [path.split(".")]
    assert get_config().get(path) == KEYS_BY_PATH[path].default


@pytest.mark.django_db
@pytest.mark.parametrize("typed, stored", [(12, 12), (12.0, 12), ("12", 12), (" 12 ", 12), ("12.0", 12)])
def test_ascii_numbers_are_still_accepted_from_json_and_text(admin_user, typed, stored):
    assert save_values({"trash.days": typed}, user=admin_user).ok
    assert get_config().trash.days == stored


@pytest.mark.django_db
@pytest.mark.parametrize("typed, stored", [("0.75", 0.75), (".5", 0.5), ("1e-1", 0.1), (1, 1.0)])
def test_ascii_decimals_are_still_accepted(admin_user, typed, stored):
    assert save_values({"machineLearning.facialRecognition.minScore": typed}, user=admin_user).ok
    assert get_config().machineLearning.facialRecognition.minScore == stored


def test_a_config_file_with_other_digits_stops_start_up(tmp_path):
    result = start_up_with(tmp_path, {"trash": {"days": "٣"}})
    assert result.returncode != 0
    assert "trash.days: Must be a whole number from 0 to 36500 days." in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path, typed", [("nightlyTasks.startTime", "٠٢:٣٠"), ("ffmpeg.maxBitrate", "٥M")])
def test_times_and_bitrates_in_other_digits_are_refused(admin_user, path, typed):
    result = save_values({path: typed}, user=admin_user)
    assert list(result.errors) == [path]


# --- Checkboxes take only their own value ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("posted", ["yes please", "0", "off", "true", "1", ""])
def test_a_checkbox_refuses_values_the_form_never_sends(admin_client, htmx_headers, posted):
    enabled_before = get_config().trash.enabled
    data = form_data("trash", {"trash.days": "12"})
    data["trash_enabled"] = posted
    response = admin_client.post(url("trash"), data, **htmx_headers)
    assert errors_of(response, "trash_enabled") == [
        f"{KEYS_BY_PATH['trash.enabled'].label}: “{posted}” is not a value of this checkbox: tick it or leave it "
        "unticked."]
    assert (get_config().trash.enabled, get_config().trash.days) == (enabled_before, KEYS_BY_PATH["trash.days"].default)


@pytest.mark.django_db
def test_a_checkbox_saves_on_when_ticked_and_off_when_absent(admin_client, htmx_headers):
    response = admin_client.post(url("trash"), form_data("trash", {"trash.enabled": False}), **htmx_headers)
    assert errors_of(response, "trash_enabled") == [] and get_config().trash.enabled is False
    assert re.search(r'<input type="checkbox" name="trash_enabled"[^>]*>', setting_html(response, "trash_enabled"))
    assert ' value="' not in re.search(r"<input[^>]*>", setting_html(response, "trash_enabled")).group(0)
    data = form_data("trash", {"trash.enabled": True})
    assert data["trash_enabled"] == "on"  # what the rendered checkbox submits: it has no value attribute
    admin_client.post(url("trash"), data, **htmx_headers)
    assert get_config().trash.enabled is True


@pytest.mark.django_db
@pytest.mark.parametrize("value, ok", [(True, True), (False, True), ("true", True), ("false", True),
                                       ("on", False), ("1", False), ("yes", False), ("", False)])
def test_the_api_takes_booleans_and_immichs_true_false_strings_only(admin_client, value, ok):
    response = put(admin_client, set_path(admin_client.get(API_URL).json(), "trash.enabled", value))
    assert (response.status_code == 200) is ok, response.content
