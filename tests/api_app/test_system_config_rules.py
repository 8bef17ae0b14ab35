"""PUT /api/system-config beyond Immich: If-Match with the ETag of GET refuses a stale edit (409 naming what
changed), and turning off every login method is refused (400 naming the consequence and the way back)."""

import json

import pytest
from django.test import Client

from settings_app.models import SettingChange
from settings_app.services import get_config, save_values
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db

URL = "/api/system-config"


@pytest.fixture
def api(admin_user):
    _, secret = ApiKey.issue(admin_user, "script")
    client = Client(HTTP_X_API_KEY=secret)

    def call(method, body=None, **headers):
        if body is None:
            return getattr(client, method)(URL, **headers)
        return getattr(client, method)(URL, json.dumps(body), content_type="application/json", **headers)

    return call


def test_get_and_put_return_an_etag_that_changes_with_each_save(api):
    first = api("get")["ETag"]
    assert first.startswith('"') and first == api("get")["ETag"]
    saved = api("put", {"trash": {"days": 9}}, HTTP_IF_MATCH=first)
    assert saved.status_code == 200 and saved.json()["trash"]["days"] == 9
    assert saved["ETag"] != first and saved["ETag"] == api("get")["ETag"]


def test_a_stale_if_match_is_refused_naming_what_changed(api, other_admin):
    config = api("get")
    etag = config["ETag"]
    assert save_values({"trash.days": 12}, user=other_admin).ok  # someone else saves in between

    body = config.json()
    body["image"]["thumbnail"]["size"] = 300
    response = api("put", body, HTTP_IF_MATCH=etag)

    assert response.status_code == 409
    payload = response.json()
    assert payload["statusCode"] == 409 and payload["error"] == "Conflict"
    assert "Days in trash (trash.days) was changed by second-admin@example.com" in payload["message"]
    assert "30 → 12" in payload["message"]
    assert get_config().trash.days == 12 and get_config().image.thumbnail.size == 250  # nothing of ours saved

    # With the fresh ETag the same edit goes through.
    response = api("put", {"image": {"thumbnail": {"size": 300}}}, HTTP_IF_MATCH=api("get")["ETag"])
    assert response.status_code == 200 and get_config().image.thumbnail.size == 300


def test_without_if_match_the_last_write_wins_and_is_recorded(api, other_admin):
    body = api("get").json()
    assert save_values({"trash.days": 12}, user=other_admin).ok
    assert api("put", body).status_code == 200  # Immich's behaviour: the whole config sent back wins
    assert get_config().trash.days == 30
    assert list(SettingChange.objects.filter(path="trash.days").order_by("id").values_list("source", "new_value")) == [
        ("dashboard", 12), ("api", 30)]


def test_if_match_star_and_malformed_etags(api):
    assert api("put", {"trash": {"days": 5}}, HTTP_IF_MATCH="*").status_code == 200
    response = api("put", {"trash": {"days": 6}}, HTTP_IF_MATCH='"garbage"')
    assert response.status_code == 400 and "If-Match" in response.json()["message"]
    assert get_config().trash.days == 5


def test_turning_off_every_login_method_is_refused_naming_the_way_back(api):
    body = api("get").json()
    body["passwordLogin"]["enabled"] = False  # OAuth is off by default
    response = api("put", body)

    assert response.status_code == 400
    payload = response.json()
    assert "nobody could log in" in payload["message"]
    assert "manage.py enable_password_login" in payload["message"]
    assert {tuple(error["path"]) for error in payload["errors"]} == {("passwordLogin", "enabled"),
                                                                     ("oauth", "enabled")}
    assert get_config().passwordLogin.enabled is True
    assert not SettingChange.objects.exists()


def test_turning_off_one_login_method_while_the_other_stays_is_allowed(api, admin_user):
    assert save_values({"oauth.enabled": True, "oauth.issuerUrl": "https://id.example.com",
                        "oauth.clientId": "photos"}, user=admin_user).ok
    response = api("put", {"passwordLogin": {"enabled": False}})
    assert response.status_code == 200 and get_config().passwordLogin.enabled is False
    # Both off already (the server CLI did it): other settings can still be saved.
    assert save_values({"oauth.enabled": False}, user=admin_user).ok
    assert api("put", {"trash": {"days": 4}}).status_code == 200
