"""The admin console at /console/: administrators only; users listed, created, edited and given new
passwords; the dashboard's look and a way back to it."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from users_app.models import GIB
from users_app.services import schedule_deletion

pytestmark = pytest.mark.django_db
USERS = "/console/users_app/user/"
User = get_user_model()


def edit_data(user, **changes):
    data = {
        "email": user.email, "name": user.name, "storage_label": user.storage_label or "",
        "quota_gib": "" if user.quota_in_gib is None else str(user.quota_in_gib),
    }
    if user.is_admin:
        data["is_admin"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# --- Access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/console/", USERS, USERS + "add/", USERS + "delete-now/?ids=1"])
def test_anonymous_visitors_go_to_the_site_login(url):
    response = Client().get(url, follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/?next=")
    assert response.status_code == 200 and b'name="password"' in response.content


@pytest.mark.parametrize("url", ["/console/", USERS, USERS + "add/", "/console/login/"])
def test_non_admins_get_403(user_client, url):
    response = user_client.get(url, follow=True)
    assert response.status_code == 403


def test_a_non_admin_cannot_post_to_the_console(user_client, user):
    response = user_client.post(USERS + f"{user.pk}/change/", edit_data(user, is_admin="on"), follow=True)
    assert response.status_code == 403
    assert not User.objects.get(pk=user.pk).is_admin


def test_admins_get_in_and_the_console_login_sends_them_on(admin_client):
    assert admin_client.get("/console/").status_code == 200
    response = admin_client.get("/console/login/?next=/console/users_app/user/")
    assert response.status_code == 302 and response["Location"] == "/console/users_app/user/"


def test_the_console_login_ignores_offsite_next(admin_client):
    response = admin_client.get("/console/login/?next=https://evil.example.com/")
    assert response["Location"] == "/console/"


def test_a_demoted_admin_loses_the_console(admin_client, admin_user):
    admin_user.is_admin = False
    admin_user.save()
    assert admin_client.get(USERS).status_code in (302, 403)


# --- Look and navigation ---------------------------------------------------------------------------


def test_console_uses_the_dashboard_colours_and_links_back(admin_client):
    html = admin_client.get(USERS).content.decode()
    assert '<link rel="stylesheet" href="/static/css/console.css">' in html
    assert 'href="/admin/system-settings/"' in html
    assert 'href="/admin/jobs/"' in html


def test_console_stylesheet_is_served_with_the_dashboard_primary_colour(admin_client):
    from django.contrib.staticfiles import finders

    css = Path(finders.find("css/console.css")).read_text()
    assert "--primary: #4250af" in css  # the same primary as static/css/app.css
    assert "#4250af" in Path(finders.find("css/app.css")).read_text()


def test_groups_are_not_offered(admin_client):
    assert admin_client.get("/console/auth/group/").status_code == 404


# --- List ------------------------------------------------------------------------------------------


def test_list_shows_the_columns_and_pending_deletion_dates(admin_client, django_user_model):
    django_user_model.objects.create_user("quota@example.com", "quota-pass-1", name="Quota Person",
                                          storage_label="quota-label", quota_size_in_bytes=int(2.5 * GIB))
    leaving = django_user_model.objects.create_user("leaving@example.com", "leaving-pass-1")
    scheduled = timezone.now()
    schedule_deletion(leaving, now=scheduled)

    html = admin_client.get(USERS).content.decode()
    for header in ("Email", "Name", "Admin", "Storage label", "Quota", "Deletion due"):
        assert f">{header}</a>" in html, header
    assert "quota-label" in html and "2.5 GiB" in html and "Quota Person" in html
    due = timezone.localtime(scheduled + timezone.timedelta(days=7))
    assert f"{due:%Y-%m-%d %H:%M}" in html
    assert "unlimited" in html


def test_list_filter_for_pending_deletions(admin_client, user, django_user_model):
    leaving = django_user_model.objects.create_user("leaving@example.com", "leaving-pass-1")
    schedule_deletion(leaving)
    html = admin_client.get(USERS + "?deletion=pending").content.decode()
    assert "leaving@example.com" in html and "user@example.com" not in html


# --- Create ----------------------------------------------------------------------------------------


def test_create_a_user_with_every_field(admin_client):
    response = admin_client.post(USERS + "add/", {
        "email": "New.Person@Example.com", "name": "New Person", "password1": "new-person-pass",
        "password2": "new-person-pass", "is_admin": "on", "storage_label": "new-person", "quota_gib": "2.5",
    })
    assert response.status_code == 302
    created = User.objects.get(email="new.person@example.com")
    assert (created.name, created.is_admin, created.is_superuser, created.storage_label) == (
        "New Person", True, True, "new-person")
    assert created.quota_size_in_bytes == int(2.5 * GIB)
    assert Client().login(email="new.person@example.com", password="new-person-pass")


def test_create_without_quota_and_label_means_unlimited_and_none(admin_client):
    admin_client.post(USERS + "add/", {"email": "plain@example.com", "password1": "plain-pass-123",
                                       "password2": "plain-pass-123"})
    created = User.objects.get(email="plain@example.com")
    assert created.quota_size_in_bytes is None and created.storage_label is None and not created.is_admin


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"storage_label": "../etc"}, "storage_label", "may contain only letters, digits"),
    ({"quota_gib": "-1"}, "quota_gib", "greater than or equal to 0"),
    ({"quota_gib": "lots"}, "quota_gib", "Enter a number."),
    ({"password2": "different-pass"}, "password2", "The two password fields didn"),
    ({"password1": "short", "password2": "short"}, "password2", "at least 8 characters"),
    ({"email": "USER@example.com"}, "email", "A user with this email already exists."),
    ({"email": "not-an-email"}, "email", "Enter a valid email address."),
])
def test_bad_create_input_is_refused_naming_the_field(admin_client, user, data, field, message):
    form = {"email": "fresh@example.com", "password1": "fresh-pass-123", "password2": "fresh-pass-123", **data}
    response = admin_client.post(USERS + "add/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field]), errors
    assert not User.objects.filter(email="fresh@example.com").exists()


def test_storage_labels_are_unique(admin_client, django_user_model):
    django_user_model.objects.create_user("a@example.com", "a-pass-1234", storage_label="shared")
    response = admin_client.post(USERS + "add/", {"email": "b@example.com", "password1": "b-pass-1234",
                                                  "password2": "b-pass-1234", "storage_label": "shared"})
    assert "storage_label" in response.context["adminform"].form.errors


# --- Edit ------------------------------------------------------------------------------------------


def test_edit_profile_admin_flag_and_quota(admin_client, user):
    response = admin_client.post(USERS + f"{user.pk}/change/", edit_data(
        user, name="Renamed", storage_label="renamed-label", quota_gib="10", is_admin="on"))
    assert response.status_code == 302
    edited = User.objects.get(pk=user.pk)
    assert (edited.name, edited.storage_label, edited.quota_size_in_bytes) == ("Renamed", "renamed-label", 10 * GIB)
    assert edited.is_admin and edited.is_superuser

    admin_client.post(USERS + f"{user.pk}/change/", edit_data(edited, storage_label="", quota_gib="", is_admin=None))
    edited = User.objects.get(pk=user.pk)
    assert edited.storage_label is None and edited.quota_size_in_bytes is None
    assert not edited.is_admin and not edited.is_superuser


def test_edit_form_shows_the_quota_in_gib_and_leaves_odd_byte_counts_alone(admin_client, user):
    user.quota_size_in_bytes = GIB + 12345  # set through the API or OAuth claim, not a round GiB value
    user.save()
    response = admin_client.get(USERS + f"{user.pk}/change/")
    assert response.context["adminform"].form.initial["quota_gib"] == Decimal("1.00")
    admin_client.post(USERS + f"{user.pk}/change/", edit_data(user, quota_gib="1.00", name="Only the name"))
    edited = User.objects.get(pk=user.pk)
    assert edited.name == "Only the name" and edited.quota_size_in_bytes == GIB + 12345


def test_edit_form_does_not_offer_django_permission_fields(admin_client, user):
    form = admin_client.get(USERS + f"{user.pk}/change/").context["adminform"].form
    assert not {"is_active", "is_superuser", "groups", "user_permissions"} & set(form.fields)


def test_password_reset_sets_the_password_and_logs_the_user_out(admin_client, user):
    user_browser = Client()
    user_browser.force_login(user)
    response = admin_client.post(USERS + f"{user.pk}/password/", {
        "password1": "reset-by-admin-1", "password2": "reset-by-admin-1", "usable_password": "true"})
    assert response.status_code == 302
    assert Client().login(email="user@example.com", password="reset-by-admin-1")
    assert user_browser.get("/").status_code == 302  # the old session ended


def test_an_admin_resetting_their_own_password_stays_logged_in(admin_client, admin_user):
    response = admin_client.post(USERS + f"{admin_user.pk}/password/", {
        "password1": "my-new-password-1", "password2": "my-new-password-1", "usable_password": "true"})
    assert response.status_code == 302
    assert admin_client.get(USERS).status_code == 200
