"""Dashboard history and revert, the job re-run offer after a save, export and import."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jobs_app.models import QueueRun
from settings_app.models import SettingChange
from settings_app.services import get_config, save_values

from .test_dashboard import BASE, form_data, setting_html, text_of, url, words_of

pytestmark = pytest.mark.django_db


# --- History and revert ----------------------------------------------------------------------------------


def test_history_shows_who_when_source_and_old_new(admin_client, admin_user, other_admin, htmx_headers):
    admin_client.post(url("trash"), form_data("trash", {"trash.days": "12"}), **htmx_headers)
    save_values({"trash.enabled": False}, user=other_admin, source="api")
    response = admin_client.get(f"{url('trash')}history/", **htmx_headers)
    content = text_of(response)
    assert "<html" not in content and "<h3>History</h3>" in content
    rows = content.split("<tbody>")[1].split("</tr>")
    assert "second-admin@example.com" in rows[0] and ">api<" in rows[0] and "Enable trash" in rows[0]
    assert "on</span> → <span class=\"new\">off" in rows[0]
    assert "admin@example.com" in rows[1] and ">dashboard<" in rows[1]
    assert "30 days</span> → <span class=\"new\">12 days" in rows[1]
    change = SettingChange.objects.get(path="trash.days")
    assert timezone.localtime(change.changed_at).strftime("%Y-%m-%d %H:%M:%S") in rows[1]

    page = text_of(admin_client.get(f"{url('trash')}history/"))  # without htmx: the page with the card open
    assert "<html" in page and "Days in trash" in page and 'data-slug="trash"' in page


def test_history_is_per_category(admin_client, admin_user, htmx_headers):
    save_values({"trash.days": 12, "image.thumbnail.size": 300}, user=admin_user)
    content = text_of(admin_client.get(f"{url('image')}history/", **htmx_headers))
    assert "Thumbnail resolution" in content and "Days in trash" not in content
    assert "No changes recorded yet" in text_of(admin_client.get(f"{url('logging')}history/", **htmx_headers))


def test_revert_asks_then_restores_the_old_value(admin_client, admin_user, htmx_headers):
    save_values({"trash.days": 12}, user=admin_user)
    change = SettingChange.objects.get()
    history = text_of(admin_client.get(f"{url('trash')}history/", **htmx_headers))
    assert f'hx-post="/admin/system-settings/history/{change.pk}/revert/"' in history
    assert 'hx-confirm="Revert Days in trash to 30 days? This saves at once."' in history

    # Without the confirmation (a plain form post, no JS): a question, nothing reverted.
    response = admin_client.post(f"{BASE}history/{change.pk}/revert/")
    assert "Revert Days in trash to 30 days (it was changed by admin@example.com to 12 days)?" in words_of(response)
    assert get_config().trash.days == 12

    response = admin_client.post(f"{BASE}history/{change.pk}/revert/", {"confirm": "1"}, **htmx_headers)
    content = text_of(response)
    assert "Settings saved" in content and 'value="30"' in setting_html(response, "trash_days")
    assert get_config().trash.days == 30
    latest = SettingChange.objects.first()
    assert (latest.source, latest.old_value, latest.new_value, latest.changed_by) == ("revert", 12, 30, admin_user)
    assert ">revert<" in content  # the history stays open, with the new row


def test_a_revert_that_is_no_longer_valid_is_refused_with_the_reason(admin_client, admin_user, htmx_headers,
                                                                      settings):
    save_values({"logging.level": "warn"}, user=admin_user)
    change = SettingChange.objects.get()
    settings.LOG_LEVEL_OVERRIDE = "debug"  # logging is now owned by the environment
    response = admin_client.post(f"{BASE}history/{change.pk}/revert/", {"confirm": "1"}, **htmx_headers)
    assert "Not reverted." in text_of(response)
    assert "logging.level: Logging cannot be changed while the environment variable LOG_LEVEL is set." \
        in text_of(response)
    assert get_config().logging.level == "warn"


def test_reverting_an_unknown_change_is_404(admin_client):
    assert admin_client.post(f"{BASE}history/999/revert/", {"confirm": "1"}).status_code == 404


# --- Re-run offer ----------------------------------------------------------------------------------------


def test_changing_the_thumbnail_size_offers_generate_thumbnails_all(admin_client, htmx_headers):
    response = admin_client.post(url("image"), form_data("image", {"image.thumbnail.size": "320"}), **htmx_headers)
    content = text_of(response)
    assert "These changes apply to new work only. To update existing assets run:" in content
    assert content.count(">Generate Thumbnails — ALL</button>") == 1
    assert 'name="queue" value="thumbnailGeneration"' in content and 'name="force" value="true"' in content


def test_changes_that_need_no_job_offer_none(admin_client, htmx_headers):
    content = text_of(admin_client.post(url("trash"), form_data("trash", {"trash.days": "3"}), **htmx_headers))
    assert "Settings saved" in content and "To update existing assets run" not in content


def test_machine_learning_changes_offer_each_needed_job_once(admin_client, htmx_headers):
    data = form_data("machine-learning", {
        "machineLearning.facialRecognition.modelName": "buffalo_s",
        "machineLearning.facialRecognition.minScore": "0.8",
        "machineLearning.facialRecognition.minFaces": "5",
        "machineLearning.clip.modelName": "ViT-B-16__openai",
    })
    content = text_of(admin_client.post(url("machine-learning"), data, **htmx_headers))
    for label in ("Face Detection — ALL (reset)", "Facial Recognition — ALL (reset)", "Smart Search — ALL"):
        assert content.count(f">{label}</button>") == 1


def test_the_rerun_button_starts_the_queue_in_the_jobs_engine(admin_client, admin_user, htmx_headers):
    response = admin_client.post(f"{BASE}rerun/", {"queue": "thumbnailGeneration", "force": "true"}, **htmx_headers)
    assert re.fullmatch(r'<span class="rerun-started">Generate Thumbnails: .* started\.</span>', text_of(response))
    run = QueueRun.objects.get()
    assert (run.queue, run.force, run.started_by) == ("thumbnailGeneration", True, admin_user)

    # Pressed again while that run is still pending: the engine refuses and the dashboard says why.
    response = admin_client.post(f"{BASE}rerun/", {"queue": "thumbnailGeneration", "force": "true"}, **htmx_headers)
    assert text_of(response).startswith('<span class="rerun-busy">Generate Thumbnails is already running')
    assert QueueRun.objects.count() == 1


def test_a_queue_whose_feature_is_off_is_refused_with_the_reason(admin_client, admin_user, htmx_headers):
    save_values({"machineLearning.enabled": False}, user=admin_user)
    response = admin_client.post(f"{BASE}rerun/", {"queue": "smartSearch", "force": "true"}, **htmx_headers)
    assert text_of(response).startswith('<span class="rerun-refused">Smart Search: Disabled: turn on')
    assert not QueueRun.objects.exists()


def test_without_js_the_rerun_answer_is_shown_on_the_page(admin_client):
    response = admin_client.post(f"{BASE}rerun/", {"queue": "storageTemplateMigration", "force": "false",
                                                    "slug": "storage-template"})
    content = text_of(response)
    assert "<html" in content and "Storage Template Migration" in content and 'data-slug="storage-template"' in content
    assert QueueRun.objects.get().queue == "storageTemplateMigration"


def test_only_jobs_that_settings_call_for_can_be_started_here(admin_client, htmx_headers):
    for data in ({"queue": "backupDatabase", "force": "true"}, {"queue": "thumbnailGeneration", "force": "maybe"},
                 {}):
        assert admin_client.post(f"{BASE}rerun/", data, **htmx_headers).status_code == 400


# --- Export and import -------------------------------------------------------------------------------------


def test_export_downloads_the_effective_config_without_secrets(admin_client, admin_user):
    save_values({"trash.days": 12, "oauth.clientSecret": "hidden-value"}, user=admin_user)
    response = admin_client.get(f"{BASE}export.json")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="immich-config.json"'
    document = json.loads(response.content)
    assert document == get_config().as_dict()
    assert document["trash"]["days"] == 12 and document["oauth"]["clientSecret"] == ""
    assert document["image"]["thumbnail"]["size"] == 250


def _upload(content, name="immich-config.json"):
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    return SimpleUploadedFile(name, data, content_type="application/json")


def test_import_saves_the_keys_of_the_file_and_lists_the_changes(admin_client, admin_user, htmx_headers):
    document = {"trash": {"days": 12, "enabled": True}, "image": {"thumbnail": {"size": 320}},
                "integrityChecks": {"enabled": True}}
    response = admin_client.post(f"{BASE}import/", {"config": _upload(document)}, **htmx_headers)
    content = text_of(response)
    assert "Settings imported." in content
    assert "Days in trash trash.days: 30 days → 12 days" in words_of(response)
    assert "Ignored keys this server does not know: integrityChecks.enabled" in content
    assert response["HX-Trigger"] == "settings-imported"  # the open card reloads
    assert (get_config().trash.days, get_config().image.thumbnail.size) == (12, 320)
    assert set(SettingChange.objects.values_list("source", flat=True)) == {"import"}


def test_an_export_imports_back_unchanged(admin_client, admin_user):
    save_values({"trash.days": 12, "oauth.clientSecret": "keep-me"}, user=admin_user)
    exported = admin_client.get(f"{BASE}export.json").content
    response = admin_client.post(f"{BASE}import/", {"config": _upload(exported)})
    assert "the file matches the current settings, nothing changed" in text_of(response)
    assert get_config().oauth.clientSecret == "keep-me"  # the blank secret of an export keeps the stored one


@pytest.mark.parametrize("content,message", [
    ({"trash": {"days": -1}, "image": {"thumbnail": {"format": "gif"}}},
     ["trash.days: Must be a whole number from 0 to 36500 days.",
      "image.thumbnail.format: “gif” is not allowed: must be one of jpeg, webp."]),
    (b"{not json", ["The file is not valid JSON:"]),
    (b"[1, 2]", ["The file must hold a JSON object of settings sections"]),
    (b"\xff\xfe", ["The file is not valid JSON:"]),
])
def test_import_refuses_bad_files_and_stores_nothing(admin_client, htmx_headers, content, message):
    response = admin_client.post(f"{BASE}import/", {"config": _upload(content)}, **htmx_headers)
    text = text_of(response)
    assert "Import refused — nothing was saved." in text
    for expected in message:
        assert expected in text
    assert not SettingChange.objects.exists()
    assert "HX-Trigger" not in response


def test_import_without_a_file_says_so(admin_client):
    assert "Choose a JSON file to import." in text_of(admin_client.post(f"{BASE}import/"))
