"""Dashboard safety rules: config-file locks, concurrent edits, secrets never rendered, user text shown as
text, the both-logins-off confirmation, administrators only."""

import html
import json

import pytest
from django.test import Client

from settings_app.models import SettingChange
from settings_app.registry import CATEGORIES
from settings_app.services import get_config, save_values

from .test_dashboard import BASE, errors_of, field_marked_unsaved, form_data, setting_html, text_of, url

pytestmark = pytest.mark.django_db


# --- Config file locks --------------------------------------------------------------------------------


@pytest.fixture
def config_file_locking(use_config_file):
    """SETTINGS_CONFIG_FILE setting trash.days = 9 (and the thumbnail size), loaded as at start-up."""
    return use_config_file({"trash": {"days": 9}, "image": {"thumbnail": {"size": 300}}}, "immich-config.json")


def test_locked_key_is_disabled_marked_and_cannot_be_changed(admin_client, htmx_headers, config_file_locking):
    response = admin_client.get(url("trash"), **htmx_headers)
    days = setting_html(response, "trash_days")
    assert "disabled" in days and "set by config file" in days and 'value="9"' in days
    assert 'value="reset:trash_days"' not in days  # no per-field reset for a locked key
    assert "disabled" not in setting_html(response, "trash_enabled").split("<input", 1)[1].split(">")[0]
    assert "1 setting in this category is set by the config file" in text_of(response)

    # A crafted POST carrying the locked field is ignored for it; the other keys still save.
    data = form_data("trash", {"trash.enabled": False}, trash_days="1")
    response = admin_client.post(url("trash"), data, **htmx_headers)
    assert "Settings saved" in text_of(response)
    assert get_config().trash.days == 9 and get_config().trash.enabled is False
    assert list(SettingChange.objects.values_list("path", flat=True)) == ["trash.enabled"]

    # Reset to default leaves the locked key alone.
    response = admin_client.post(url("trash"), form_data("trash", action="defaults"), **htmx_headers)
    assert 'value="9"' in setting_html(response, "trash_days")
    assert not field_marked_unsaved(response, "trash_days")


def test_the_page_names_the_config_file(admin_client, config_file_locking):
    content = text_of(admin_client.get(BASE))
    assert f"Some settings are set by the config file <code>{config_file_locking}</code>" in content


def test_import_cannot_change_a_locked_key(admin_client, config_file_locking):
    upload = _upload({"trash": {"days": 3}})
    response = admin_client.post(f"{BASE}import/", {"config": upload})
    assert "trash.days: Set by the config file" in text_of(response)
    assert get_config().trash.days == 9


def _upload(document, name="immich-config.json"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, json.dumps(document).encode(), content_type="application/json")


# --- Concurrent edits -----------------------------------------------------------------------------------


def test_a_save_based_on_a_stale_version_is_refused_and_names_the_change(admin_user, other_admin, htmx_headers):
    first, second = Client(), Client()
    first.force_login(admin_user)
    second.force_login(other_admin)
    stale = form_data("trash")  # both opened the page at the same version

    first_form = {**stale, "trash_days": "10"}
    assert "Settings saved" in text_of(first.post(url("trash"), first_form, **htmx_headers))

    response = second.post(url("trash"), {**stale, "trash_days": "20"}, **htmx_headers)
    content = text_of(response)
    assert response.status_code == 409  # scripts can tell; htmx swaps it (base.html htmx-config)
    assert "Not saved — concurrent edit." in content
    assert "Days in trash (trash.days) was changed by admin@example.com" in content and "30 → 10" in content
    assert 'value="20"' in setting_html(response, "trash_days")  # their edit is still in the form
    assert get_config().trash.days == 10

    # Discard loads the other administrator's values and a fresh version; the next save goes through.
    response = second.post(url("trash"), {**stale, "action": "discard"}, **htmx_headers)
    assert 'value="10"' in setting_html(response, "trash_days")
    assert "Settings saved" in text_of(second.post(url("trash"), form_data("trash", {"trash.days": "20"}),
                                                   **htmx_headers))
    assert get_config().trash.days == 20


# --- Secrets --------------------------------------------------------------------------------------------

OAUTH_SECRET = "oauth-Secret-7f3a9c"
SMTP_PASSWORD = "smtp-Password-51be02"


def _every_dashboard_response(client, htmx_headers):
    yield client.get(BASE)
    yield client.get(f"{BASE}export.json")
    for category in CATEGORIES:
        yield client.get(url(category.slug))
        yield client.get(url(category.slug), **htmx_headers)
        yield client.get(f"{BASE}?isOpen={category.slug}")
        yield client.get(f"{url(category.slug)}history/")
        yield client.get(f"{url(category.slug)}history/", **htmx_headers)
        yield client.post(url(category.slug), form_data(category.slug, action="defaults"), **htmx_headers)
        yield client.post(url(category.slug), form_data(category.slug, action="discard"), **htmx_headers)
    for query in ("secret", "password", "oauth"):
        yield client.get(BASE, {"q": query})


def test_secrets_are_never_rendered_back(admin_client, htmx_headers):
    response = admin_client.post(url("authentication"), form_data("authentication", {
        "oauth.clientSecret": OAUTH_SECRET}), **htmx_headers)
    assert "Settings saved" in text_of(response) and OAUTH_SECRET not in text_of(response)
    response = admin_client.post(url("notifications"), form_data("notifications", {
        "notifications.smtp.transport.password": SMTP_PASSWORD}), **htmx_headers)
    assert "Settings saved" in text_of(response) and SMTP_PASSWORD not in text_of(response)
    assert get_config().oauth.clientSecret == OAUTH_SECRET

    responses = list(_every_dashboard_response(admin_client, htmx_headers))
    for response in responses:
        assert response.status_code == 200
        body = response.content.decode()
        assert OAUTH_SECRET not in body and SMTP_PASSWORD not in body, response.request["PATH_INFO"]
    assert json.loads(responses[1].content)["oauth"]["clientSecret"] == ""


def test_a_stored_secret_is_announced_kept_when_empty_and_clearable(admin_client, admin_user, htmx_headers):
    save_values({"oauth.clientSecret": OAUTH_SECRET}, user=admin_user)
    response = admin_client.get(url("authentication"), **htmx_headers)
    secret = html.unescape(setting_html(response, "oauth_client_secret"))
    assert 'type="password"' in secret and "value=" not in secret.split('type="password"')[1].split(">")[0]
    assert "A secret is stored — leave empty to keep it." in secret and "clear stored secret" in secret

    admin_client.post(url("authentication"), form_data("authentication", {"oauth.clientId": "abc"}), **htmx_headers)
    assert get_config().oauth.clientSecret == OAUTH_SECRET  # submitted empty: kept

    data = form_data("authentication", clear_secrets=["oauth.clientSecret"])
    assert "Settings saved" in text_of(admin_client.post(url("authentication"), data, **htmx_headers))
    assert get_config().oauth.clientSecret == ""
    assert "No secret stored." in text_of(admin_client.get(url("authentication"), **htmx_headers))


def test_a_refused_save_does_not_echo_the_typed_secret(admin_client, htmx_headers):
    data = form_data("authentication", {"oauth.clientSecret": OAUTH_SECRET, "oauth.timeout": "0"})
    response = admin_client.post(url("authentication"), data, **htmx_headers)
    assert errors_of(response, "oauth_timeout")
    assert OAUTH_SECRET not in response.content.decode()
    assert "Type the secret again" in text_of(response)


def test_reset_to_default_offers_to_clear_a_stored_secret(admin_client, admin_user, htmx_headers):
    save_values({"notifications.smtp.transport.password": SMTP_PASSWORD}, user=admin_user)
    response = admin_client.post(url("notifications"), form_data("notifications", action="defaults"), **htmx_headers)
    password = setting_html(response, "notifications_smtp_transport_password")
    assert 'value="notifications.smtp.transport.password" data-clear\n      checked' in password
    assert field_marked_unsaved(response, "notifications_smtp_transport_password")
    assert get_config().notifications.smtp.transport.password == SMTP_PASSWORD


def test_history_masks_secrets_and_offers_no_revert_for_them(admin_client, admin_user, htmx_headers):
    save_values({"oauth.clientSecret": OAUTH_SECRET}, user=admin_user)
    content = text_of(admin_client.get(f"{url('authentication')}history/", **htmx_headers))
    assert "Client secret" in content and "********" in content and OAUTH_SECRET not in content
    assert "Revert" not in content.split("<tbody>")[1]


# --- User text is shown as text ----------------------------------------------------------------------------

WELCOME = '<script>alert("welcome")</script><b>Hi</b> & {{ request.user }}'
CSS = 'a::after { content: "<img src=x onerror=alert(1)>"; }'


def test_welcome_message_and_css_are_shown_as_text(admin_client, htmx_headers):
    response = admin_client.post(url("server"), form_data("server", {"server.loginPageMessage": WELCOME}),
                                 **htmx_headers)
    assert "Settings saved" in text_of(response)
    assert get_config().server.loginPageMessage == WELCOME
    response = admin_client.post(url("theme"), form_data("theme", {"theme.customCss": CSS}), **htmx_headers)
    assert "Settings saved" in text_of(response)

    pages = [admin_client.get(url("server"), **htmx_headers), admin_client.get(f"{BASE}?isOpen=theme"),
             admin_client.get(f"{url('server')}history/", **htmx_headers),
             admin_client.get(f"{url('theme')}history/", **htmx_headers),
             admin_client.post(url("server"), form_data("server", {"server.loginPageMessage": WELCOME + "!",
                                                                   "server.externalDomain": "nope"}), **htmx_headers)]
    for response in pages:
        body = response.content.decode()
        assert "<script>alert" not in body and "<b>Hi</b>" not in body and "<img src=x" not in body
    assert html.escape(WELCOME) in pages[0].content.decode()
    assert html.escape(CSS) in pages[1].content.decode()
    assert "{{ request.user }}" in text_of(pages[0])  # not evaluated as a template either


# --- Turning off every login ---------------------------------------------------------------------------------


def test_turning_off_the_last_login_method_asks_for_confirmation(admin_client, htmx_headers):
    data = form_data("authentication", {"passwordLogin.enabled": False})
    response = admin_client.post(url("authentication"), data, **htmx_headers)
    content = text_of(response)
    assert "nobody will be able to log in through the web" in content
    assert "python manage.py enable_password_login" in content
    assert 'name="confirm" value="1"' in content
    assert get_config().passwordLogin.enabled is True and not SettingChange.objects.exists()
    assert field_marked_unsaved(response, "password_login_enabled")  # the edit waits in the form

    response = admin_client.post(url("authentication"), {**data, "confirm": "1"}, **htmx_headers)
    assert "Settings saved" in text_of(response)
    assert get_config().passwordLogin.enabled is False
    # From now on the card says so, with the way back.
    content = text_of(admin_client.get(url("authentication"), **htmx_headers))
    assert "nobody can log in through the web" in content and "enable_password_login" in content


def test_no_confirmation_while_oauth_stays_on(admin_client, htmx_headers):
    data = form_data("authentication", {"passwordLogin.enabled": False, "oauth.enabled": True,
                                        "oauth.issuerUrl": "https://id.example.com"})
    response = admin_client.post(url("authentication"), data, **htmx_headers)
    assert "nobody will be able" not in text_of(response)
    assert get_config().passwordLogin.enabled is False and get_config().oauth.enabled is True


# --- Administrators only ---------------------------------------------------------------------------------


def _dashboard_requests():
    yield "get", BASE
    yield "get", url("image")
    yield "post", url("image")
    yield "get", f"{url('image')}history/"
    yield "post", f"{BASE}history/1/revert/"
    yield "get", f"{BASE}export.json"
    yield "post", f"{BASE}import/"
    yield "post", f"{BASE}rerun/"
    yield "get", f"{BASE}cron-runs/backup_database_cron_expression/"


@pytest.mark.parametrize("method,path", list(_dashboard_requests()))
def test_the_dashboard_is_for_administrators_only(client, user_client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert getattr(user_client, method)(path).status_code == 403


def test_posts_need_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(url("trash"), form_data("trash", {"trash.days": "3"})).status_code == 403
    assert get_config().trash.days == 30
    page = client.get(url("trash")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page  # htmx requests carry it
    assert page.count('name="csrfmiddlewaretoken"') >= 2  # and every plain form does too
