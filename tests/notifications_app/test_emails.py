"""Which emails go out, to whom, with what: the welcome email (console "notify" and the user_created signal),
album invites and debounced album updates honouring each user's preferences, custom templates (tags replaced
and escaped, unknown tags kept), the settings page's previews and test email, Immich's notification admin
API and the `email` feature flag."""

import json
import re

import pytest
from django.utils import timezone

from albums_app.models import Album, AlbumUser
from albums_app.services import albums
from jobs_app.models import Job
from notifications_app.models import EmailPreferences
from notifications_app.services import mail
from settings_app.services import refresh_config, save_values
from tests.conftest import USER_PASSWORD
from tests.media_app.photo_assets import PHOTOS, add_asset
from users_app.models import User
from users_app.services import user_created

from .conftest import SMTP_PASSWORD, make_due, run_due_jobs, use_smtp

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(start_smtp):
    box = start_smtp()
    assert use_smtp(box).ok
    return box


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def friend(django_user_model):
    return django_user_model.objects.create_user("friend@example.com", USER_PASSWORD, name="Friend <Fr>")


def html_of(received) -> str:
    return received.message.get_body(("html",)).get_content().replace("\r\n", "\n")


def text_of(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


# --- Welcome ----------------------------------------------------------------------------------------------


def test_console_add_user_with_notify_sends_the_welcome_email(admin_client, box, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "photos.lan"]
    response = admin_client.post("/console/users_app/user/add/", {
        "email": "new@example.com", "name": "New Person", "password1": "welcome-pass-123",
        "password2": "welcome-pass-123", "notify": "on"}, HTTP_HOST="photos.lan")
    assert response.status_code == 302
    run_due_jobs()
    [received] = box.messages
    assert received.rcpt_tos == ["new@example.com"]
    assert received.message["Subject"] == "Welcome to Photo Server"
    for part in (html_of(received), text_of(received)):
        assert "welcome-pass-123" in part and "new@example.com" in part and "New Person" in part
        assert "http://photos.lan" in part
    # Without "notify", nothing is sent.
    admin_client.post("/console/users_app/user/add/", {
        "email": "quiet@example.com", "password1": "quiet-pass-123", "password2": "quiet-pass-123"})
    assert run_due_jobs() == [] and len(box.messages) == 1


def test_admin_users_api_with_notify_sends_the_welcome_email(admin_client, box, settings):
    """Immich's `POST /api/admin/users` with `notify: true` (the official SDK's createUserAdmin)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "photos.lan"]
    created = admin_client.post("/api/admin/users", {"email": "api@example.com", "name": "Api Person",
                                                     "password": "api-pass-12345", "notify": True},
                                content_type="application/json", HTTP_HOST="photos.lan")
    assert created.status_code == 201, created.content
    run_due_jobs()
    [received] = box.messages
    assert received.rcpt_tos == ["api@example.com"]
    assert "api-pass-12345" in text_of(received) and "http://photos.lan" in text_of(received)
    quiet = admin_client.post("/api/admin/users", {"email": "quiet-api@example.com", "name": "Quiet",
                                                   "password": "api-pass-12345"}, content_type="application/json")
    assert quiet.status_code == 201 and run_due_jobs() == [] and len(box.messages) == 1


def test_console_form_offers_notify(admin_client):
    page = admin_client.get("/console/users_app/user/add/").content.decode()
    assert 'name="notify"' in page and "Send a welcome email" in page


def test_welcome_signal_uses_the_external_domain_and_a_custom_template(box, admin_user):
    assert save_values({"server.externalDomain": "https://photos.example.com",
                        "templates.email.welcomeTemplate":
                            "<p>Hello {displayName}, log in at {baseUrl} as {username} with {password}. {unknown}</p>"},
                       user=admin_user).ok
    refresh_config()
    user = User.objects.create_user("tom@example.com", "x-pass-1234", name="Tom & <Jerry>")
    user_created.send(sender=User, user=user, password="p<a>ss&word", notify=True, base_url="http://ignored")
    run_due_jobs()
    [received] = box.messages
    assert html_of(received).strip() == (
        "<p>Hello Tom &amp; &lt;Jerry&gt;, log in at https://photos.example.com as tom@example.com with "
        "p&lt;a&gt;ss&amp;word. {unknown}</p>")
    assert text_of(received).strip() == ("Hello Tom & <Jerry>, log in at https://photos.example.com as "
                                         "tom@example.com with p<a>ss&word. {unknown}")


def test_no_welcome_without_notify(box, user):
    user_created.send(sender=User, user=user, password="secret-1234", notify=False, base_url="http://x")
    assert not Job.objects.exists()


# --- Albums -----------------------------------------------------------------------------------------------


def test_album_invite_goes_to_the_added_user(box, user, friend):
    album = albums.create_album(user, "Road trip")
    albums.add_users(user, album, [(friend.pk, "viewer")], base_url="http://photos.lan")
    assert [job.name for job in Job.objects.all()] == [mail.ALBUM_INVITE_JOB]
    run_due_jobs()
    [received] = box.messages
    assert received.rcpt_tos == ["friend@example.com"]
    assert received.message["Subject"] == "You have been added to a shared album - Road trip"
    assert "User has added you to the album <strong>Road trip</strong>" in html_of(received)
    assert "Friend &lt;Fr&gt;" in html_of(received)  # the recipient's name, escaped
    assert f"http://photos.lan/albums/{album.id}/" in text_of(received)


def test_album_invite_respects_the_recipients_preferences(box, user, friend):
    EmailPreferences.objects.create(user=friend, album_invite=False)
    album = albums.create_album(user, "Quiet")
    albums.add_users(user, album, [(friend.pk, "editor")])
    assert run_due_jobs() == [f"skipped: {friend.email} turned these emails off"]
    assert box.messages == []


def test_album_updates_are_debounced_per_album_and_recipient(box, user, friend, django_user_model, media_root):
    third = django_user_model.objects.create_user("third@example.com", USER_PASSWORD, name="Third")
    album = albums.create_album(user, "Party")
    AlbumUser.objects.create(album=album, user=friend, role="editor")
    AlbumUser.objects.create(album=album, user=third, role="viewer")
    first, second = add_asset(friend, PHOTOS / "mongolels.jpg"), add_asset(friend, PHOTOS / "tanners_ridge.jpg")

    albums.add_assets(friend, album, [str(first.id)])
    waiting = {job.dedupe_key: job for job in Job.objects.filter(name=mail.ALBUM_UPDATE_JOB)}
    # The owner and the viewer are told; the editor who added is not.
    assert set(waiting) == {f"{album.id}/{user.pk}", f"{album.id}/{third.pk}"}
    delay = (waiting[f"{album.id}/{user.pk}"].run_at - timezone.now()).total_seconds()
    assert 290 < delay <= 300

    albums.add_assets(friend, album, [str(second.id)])
    again = Job.objects.filter(name=mail.ALBUM_UPDATE_JOB, status=Job.WAITING)
    assert again.count() == 2  # replaced, not added
    assert all(job.run_at >= waiting[job.dedupe_key].run_at for job in again)  # the delay started again
    assert run_due_jobs() == []  # not due before 300 s

    make_due(name=mail.ALBUM_UPDATE_JOB)
    run_due_jobs()
    assert sorted(rcpt for received in box.messages for rcpt in received.rcpt_tos) == [
        "third@example.com", "user@example.com"]
    assert {received.message["Subject"] for received in box.messages} == {
        "New media has been added to an album - Party"}
    assert "New photos have been added" in html_of(box.messages[0])


def test_album_update_emails_can_be_switched_off(box, user, friend, media_root):
    album = Album.objects.create(owner=user, name="Mine")
    AlbumUser.objects.create(album=album, user=friend, role="viewer")
    EmailPreferences.objects.create(user=friend, album_update=False)
    albums.add_assets(user, album, [str(add_asset(user, PHOTOS / "mongolels.jpg").id)])
    make_due()
    assert run_due_jobs() == [f"skipped: {friend.email} turned these emails off"]


def test_account_page_switches_album_emails(user_client, user):
    page = user_client.get("/account/notifications/").content.decode()
    assert 'name="album_update"' in page and "checked" in page
    user_client.post("/account/notifications/", {"enabled": "on", "album_invite": "on"})
    preferences = EmailPreferences.objects.get(user=user)
    assert (preferences.enabled, preferences.album_invite, preferences.album_update) == (True, True, False)
    assert not mail.wants(user, "album_update") and mail.wants(user, "album_invite")


# --- Settings page: previews, test email, API, feature flag ----------------------------------------------


def test_previews_render_each_template_escaped(admin_client):
    column = "templates_email_album_update_template"
    built_in = admin_client.post("/admin/notifications/preview/album-update", {column: ""}).content.decode()
    assert "New media has been added to an album - Summer 2025" in built_in and "built-in template" in built_in
    assert "New photos have been added" in built_in  # the album-update template, not the invite one
    assert 'srcdoc="&lt;!DOCTYPE html&gt;' in built_in  # the whole mail inside the attribute, escaped
    custom = admin_client.post("/admin/notifications/preview/album-update",
                               {column: "<h1>{albumName}</h1> {nope}"}).content.decode()
    # The mail's HTML sits in the sandboxed frame's srcdoc attribute, escaped once more for the attribute.
    assert 'srcdoc="&lt;h1&gt;Summer 2025&lt;/h1&gt; {nope}"' in custom and "your template" in custom
    assert admin_client.post("/admin/notifications/preview/nope", {}).status_code == 404
    extra = admin_client.get("/admin/notifications/settings-extra").content.decode()
    assert extra.count("data-email-preview=") == 3 and "Send test email" in extra


def test_test_email_uses_the_unsaved_form_and_reports_the_answer(admin_client, admin_user, start_smtp):
    box = start_smtp("starttls", auth=True)
    form = {"notifications_smtp_enabled": "on", "notifications_smtp_from": "Photos <p@example.com>",
            "notifications_smtp_transport_host": "127.0.0.1", "notifications_smtp_transport_port": str(box.port),
            "notifications_smtp_transport_username": "mailer", "notifications_smtp_transport_password": SMTP_PASSWORD,
            "notifications_smtp_transport_ignore_cert": "on"}
    answer = admin_client.post("/admin/notifications/test-email", form).content.decode()
    assert "Sent to admin@example.com. The server answered: 250 Message accepted for delivery" in answer
    [received] = box.messages
    assert received.rcpt_tos == ["admin@example.com"] and received.message["Subject"] == "Test email from Photo Server"
    assert received.tls and received.login == "mailer"
    unticked = {name: value for name, value in form.items() if name != "notifications_smtp_transport_ignore_cert"}
    refused = admin_client.post("/admin/notifications/test-email", unticked).content.decode()
    assert "Not sent." in refused and "Ignore certificate errors" in refused
    bad = admin_client.post("/admin/notifications/test-email",
                            {**form, "notifications_smtp_transport_port": "99999"}).content.decode()
    assert "The form has errors" in bad and "SMTP port" in bad
    assert len(box.messages) == 1 and save_values({}).ok  # nothing was saved
    assert refresh_config().notifications.smtp.enabled is False


def api_post(client, path, body):
    return client.post(f"/api{path}", json.dumps(body), content_type="application/json")


def test_immich_test_email_and_template_endpoints(admin_client, user_client, start_smtp):
    box = start_smtp()
    body = {"enabled": True, "from": "Photos <p@example.com>", "replyTo": "",
            "transport": {"host": "127.0.0.1", "port": box.port, "ignoreCert": False, "username": "", "password": ""}}
    answer = api_post(admin_client, "/admin/notifications/test-email", body)
    assert answer.status_code == 200
    assert answer.json()["messageId"] == box.messages[0].message["Message-ID"]
    box.stop()
    down = api_post(admin_client, "/admin/notifications/test-email", body)
    assert down.status_code == 400 and "connection refused" in down.json()["message"]
    assert api_post(user_client, "/admin/notifications/test-email", body).status_code == 403

    rendered = api_post(admin_client, "/admin/notifications/templates/welcome", {"template": "Hi {displayName}"})
    assert rendered.json() == {"name": "welcome", "html": "Hi Jane Doe"}
    assert api_post(admin_client, "/admin/notifications/templates/nope", {"template": ""}).status_code == 404


def test_email_feature_flag_needs_verified_settings(admin_client, start_smtp, use_config_file):
    features = lambda: admin_client.get("/api/server/features").json()["email"]  # noqa: E731
    assert features() is False
    box = start_smtp()
    assert use_smtp(box).ok
    assert features() is True
    # Settings from a config file were never verified: no email feature until a test email succeeds.
    other = start_smtp()
    use_config_file({"notifications": {"smtp": {"enabled": True, "from": "x@example.com",
                                                "transport": {"host": "127.0.0.1", "port": other.port}}}})
    refresh_config()
    assert features() is False
    admin_client.post("/admin/notifications/test-email", {})
    assert features() is True


def test_the_smtp_password_is_never_rendered(admin_client, start_smtp):
    box = start_smtp("starttls", auth=True)
    assert use_smtp(box, username="mailer", password=SMTP_PASSWORD, ignoreCert=True).ok
    page = admin_client.get("/admin/system-settings/notifications/").content.decode()
    assert SMTP_PASSWORD not in page
    assert SMTP_PASSWORD not in json.dumps(admin_client.get("/api/system-config").json())
    assert re.search(r"notifications-extra-slot", page)
