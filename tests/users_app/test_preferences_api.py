"""Immich's user preferences as its clients read and set them: GET/PUT /api/users/me/preferences and the
administrators' GET/PUT /api/admin/users/{id}/preferences."""

import json

import pytest

from notifications_app.models import EmailPreferences
from settings_app.services import save_values
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db

JSON = "application/json"
ME = "/api/users/me/preferences"


def put(client, url, body, **headers):
    return client.put(url, json.dumps(body), content_type=JSON, **headers)


def admin_url(user) -> str:
    return f"/api/admin/users/{user.pk}/preferences"


def test_a_new_user_reads_immichs_defaults(user_client):
    preferences = user_client.get(ME).json()
    assert preferences["albums"] == {"defaultAssetOrder": "desc"}
    assert preferences["download"] == {"archiveSize": 4 * 1024**3, "includeEmbeddedVideos": False}
    assert preferences["people"] == {"enabled": True, "minimumFaces": 3, "sidebarWeb": False}
    assert preferences["emailNotifications"] == {"enabled": True, "albumInvite": True, "albumUpdate": True}
    assert set(preferences) == {"albums", "cast", "download", "emailNotifications", "folders", "memories", "people",
                                "purchase", "ratings", "recentlyAdded", "sharedLinks", "tags"}


def test_what_a_client_sets_is_answered_and_read_back(user_client, user):
    sent = {"albums": {"defaultAssetOrder": "asc"}, "cast": {"gCastEnabled": True},
            "download": {"archiveSize": 2 * 1024**3, "includeEmbeddedVideos": True},
            "folders": {"enabled": True, "sidebarWeb": True}, "memories": {"duration": 9},
            "people": {"minimumFaces": 5}, "purchase": {"hideBuyButtonUntil": "2027-01-31T00:00:00.000Z"},
            "ratings": {"enabled": True}, "recentlyAdded": {"sidebarWeb": True},
            "sharedLinks": {"sidebarWeb": True}, "tags": {"enabled": True, "sidebarWeb": True}}
    response = put(user_client, ME, sent)
    assert response.status_code == 200
    answered = response.json()
    assert answered == user_client.get(ME).json()
    for group, fields in sent.items():
        assert {name: answered[group][name] for name in fields} == fields, group
    assert answered["memories"] == {"enabled": True, "duration": 9, "sidebarWeb": False}  # the rest: defaults
    user.refresh_from_db()
    assert user.preferences["albums"] == {"defaultAssetOrder": "asc"}  # only what was chosen is stored


def test_a_partial_update_keeps_the_other_groups_and_fields(user_client):
    put(user_client, ME, {"download": {"archiveSize": 1024}, "tags": {"enabled": True}})
    answered = put(user_client, ME, {"download": {"includeEmbeddedVideos": True}}).json()
    assert answered["download"] == {"archiveSize": 1024, "includeEmbeddedVideos": True}
    assert answered["tags"] == {"enabled": True, "sidebarWeb": False}


def test_memories_follow_the_server_until_the_user_chooses(user_client, admin_user):
    save_values({"nightlyTasks.generateMemories": False}, user=admin_user)
    assert user_client.get(ME).json()["memories"]["enabled"] is False
    assert put(user_client, ME, {"memories": {"enabled": True}}).json()["memories"]["enabled"] is True


def test_email_choices_are_the_account_pages(user_client, user):
    answered = put(user_client, ME, {"emailNotifications": {"albumUpdate": False}}).json()
    assert answered["emailNotifications"] == {"enabled": True, "albumInvite": True, "albumUpdate": False}
    stored = EmailPreferences.objects.get(user=user)
    assert (stored.enabled, stored.album_invite, stored.album_update) == (True, True, False)
    page = user_client.get("/account/notifications/").content.decode()
    assert '<input type="checkbox" name="album_invite" checked>' in page
    assert '<input type="checkbox" name="album_update">' in page
    # And the other way round: the page's switches are what the API answers.
    user_client.post("/account/notifications/", {"album_update": "on"})
    assert user_client.get(ME).json()["emailNotifications"] == {"enabled": False, "albumInvite": False,
                                                                "albumUpdate": True}


def test_the_avatar_colour_is_the_users(user_client, user):
    assert put(user_client, ME, {"avatar": {"color": "green"}}).status_code == 200
    user.refresh_from_db()
    assert user.avatar_color == "green"
    assert user_client.get("/api/users/me").json()["avatarColor"] == "green"


@pytest.mark.parametrize("body, path", [
    ({"albums": {"defaultAssetOrder": "newest"}}, ["albums", "defaultAssetOrder"]),
    ({"download": {"archiveSize": 0}}, ["download", "archiveSize"]),
    ({"download": {"archiveSize": "4GB"}}, ["download", "archiveSize"]),
    ({"memories": {"duration": 2.5}}, ["memories", "duration"]),
    ({"people": {"minimumFaces": -1}}, ["people", "minimumFaces"]),
    ({"tags": {"enabled": "yes"}}, ["tags", "enabled"]),
    ({"emailNotifications": {"enabled": None}}, ["emailNotifications", "enabled"]),
    ({"purchase": {"hideBuyButtonUntil": "next week"}}, ["purchase", "hideBuyButtonUntil"]),
    ({"avatar": {"color": "teal"}}, ["avatar", "color"]),
    ({"cast": None}, ["cast"]),
])
def test_a_bad_value_is_refused_naming_it_and_nothing_is_saved(user_client, user, body, path):
    before = user_client.get(ME).json()
    # Good values sent alongside the bad one are not saved either.
    response = put(user_client, ME, {"ratings": {"enabled": True}, "emailNotifications": {"albumInvite": False},
                                     **body})
    assert response.status_code == 400
    error = response.json()
    assert error["message"] == "Validation failed"
    assert path in [item["path"] for item in error["errors"]], error
    assert user_client.get(ME).json() == before
    user.refresh_from_db()
    assert (user.preferences, user.avatar_color) == ({}, None)
    assert not EmailPreferences.objects.filter(user=user).exists()


def test_api_keys_need_immichs_preference_permissions(client, user):
    _, reader = ApiKey.issue(user, "reader", ["userPreference.read"])
    _, writer = ApiKey.issue(user, "writer", ["userPreference.update"])
    assert client.get(ME, HTTP_X_API_KEY=reader).status_code == 200
    refused = put(client, ME, {"ratings": {"enabled": True}}, HTTP_X_API_KEY=reader)
    assert (refused.status_code, refused.json()["message"]) == (
        403, "Missing required permission: userPreference.update")
    assert put(client, ME, {"ratings": {"enabled": True}}, HTTP_X_API_KEY=writer).json()["ratings"]["enabled"]


# --- Administrators ---------------------------------------------------------------------------------------


def test_an_administrator_reads_and_sets_a_users_preferences(admin_client, user, user_client):
    put(user_client, ME, {"folders": {"enabled": True}})
    assert admin_client.get(admin_url(user)).json() == user_client.get(ME).json()
    answered = put(admin_client, admin_url(user), {"folders": {"sidebarWeb": True},
                                                   "emailNotifications": {"enabled": False}}).json()
    assert answered["folders"] == {"enabled": True, "sidebarWeb": True}
    assert user_client.get(ME).json() == answered
    assert admin_client.get(ME).json()["folders"] == {"enabled": False, "sidebarWeb": False}  # not the admin's


def test_the_admin_endpoints_refuse_bad_values_and_unknown_users(admin_client, user):
    refused = put(admin_client, admin_url(user), {"download": {"archiveSize": -5}})
    assert refused.status_code == 400 and refused.json()["errors"][0]["path"] == ["download", "archiveSize"]
    for url in ("/api/admin/users/999999/preferences", "/api/admin/users/nope/preferences"):
        assert admin_client.get(url).status_code == 404
        missing = put(admin_client, url, {"ratings": {"enabled": True}})
        assert (missing.status_code, missing.json()["message"]) == (404, "User not found")


def test_the_admin_endpoints_are_for_administrators_only(user_client, client, user, admin_user):
    for url in (admin_url(user), admin_url(admin_user)):
        assert user_client.get(url).status_code == 403
        assert put(user_client, url, {"ratings": {"enabled": True}}).status_code == 403
        assert client.get(url).status_code == 401
    user.refresh_from_db()
    assert user.preferences == {}


def test_admin_api_keys_need_the_admin_user_permissions(client, admin_user, user):
    _, reader = ApiKey.issue(admin_user, "reader", ["adminUser.read"])
    _, writer = ApiKey.issue(admin_user, "writer", ["adminUser.update"])
    assert client.get(admin_url(user), HTTP_X_API_KEY=reader).status_code == 200
    assert put(client, admin_url(user), {"ratings": {"enabled": True}}, HTTP_X_API_KEY=reader).status_code == 403
    assert client.get(admin_url(user), HTTP_X_API_KEY=writer).status_code == 403
    assert put(client, admin_url(user), {"ratings": {"enabled": True}}, HTTP_X_API_KEY=writer).status_code == 200
