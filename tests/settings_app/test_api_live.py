"""End to end over real HTTP, as an external Immich tool uses the API: log in, create an API key, read and
change the system config with the key. Only the standard library's urllib, no cookies."""

import json
import urllib.error
import urllib.request

import pytest

from settings_app.services import get_config
from tests.conftest import ADMIN_PASSWORD


def call(base_url: str, method: str, path: str, body=None, headers=None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base_url + path, data=data, method=method,
        headers={"Accept": "application/json", **({"Content-Type": "application/json"} if data else {}),
                 **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_login_api_key_and_config_round_trip_over_http(live_server, admin_user):
    base = live_server.url

    status, ping = call(base, "GET", "/api/server/ping")
    assert (status, ping) == (200, {"res": "pong"})
    status, _ = call(base, "GET", "/api/system-config")
    assert status == 401

    status, session = call(base, "POST", "/api/auth/login", {"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert status == 201 and session["isAdmin"] is True
    bearer = {"Authorization": f"Bearer {session['accessToken']}"}

    status, created = call(base, "POST", "/api/api-keys", {"name": "immich-tool"}, bearer)
    assert status == 201
    api_key = {"x-api-key": created["secret"]}

    status, config = call(base, "GET", "/api/system-config", headers=api_key)
    assert status == 200
    assert config["image"]["thumbnail"]["size"] == 250
    config["image"]["thumbnail"]["size"] = 480
    config["trash"]["days"] = 21
    config["server"]["loginPageMessage"] = "Managed by immich-tool"

    status, saved = call(base, "PUT", "/api/system-config", config, api_key)
    assert status == 200
    assert saved == config
    assert get_config().image.thumbnail.size == 480

    status, public = call(base, "GET", "/api/server/config")
    assert (public["trashDays"], public["loginPageMessage"]) == (21, "Managed by immich-tool")

    config["image"]["thumbnail"]["quality"] = 0
    status, refused = call(base, "PUT", "/api/system-config", config, api_key)
    assert status == 400
    assert refused["message"] == "Validation failed"
    assert refused["errors"][0]["path"] == ["image", "thumbnail", "quality"]
    status, unchanged = call(base, "GET", "/api/system-config", headers=bearer)
    assert unchanged["image"]["thumbnail"]["quality"] == 80
    assert unchanged == saved

    status, keys = call(base, "GET", "/api/api-keys", headers=api_key)
    assert [key["name"] for key in keys] == ["immich-tool"]
    status, _ = call(base, "DELETE", f"/api/api-keys/{keys[0]['id']}", headers=bearer)
    assert status == 204
    assert call(base, "GET", "/api/system-config", headers=api_key)[0] == 401

    status, logged_out = call(base, "POST", "/api/auth/logout", headers=bearer)
    assert status == 200 and logged_out["successful"] is True
    assert call(base, "GET", "/api/system-config", headers=bearer)[0] == 401
