"""Every /api/ answer is JSON in Immich's shape, errors included: bad JSON, lone surrogates, wrong content
type, wrong method, bodies too large, unexpected failures. (Database busy and disk full: test_faults.py.)"""

import json

import pytest
from django.test import Client

from settings_app.models import SettingChange
from settings_app.services import get_config
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def admin_key(admin_user):
    return {"HTTP_X_API_KEY": ApiKey.issue(admin_user, "script")[1]}


def put_config(raw: str, headers: dict, content_type: str = JSON):
    return Client().put("/api/system-config", raw, content_type=content_type, **headers)


def test_lone_surrogates_are_a_400_naming_the_field_and_nothing_is_saved(admin_key):
    response = put_config('{"server": {"loginPageMessage": "hello \\ud800"}}', admin_key)
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert "not valid Unicode" in body["message"]
    assert body["errors"][0]["path"] == ["server", "loginPageMessage"]
    assert get_config().server.loginPageMessage == ""
    assert not SettingChange.objects.exists()


def test_a_paired_surrogate_escape_is_ordinary_text(admin_key):
    response = put_config('{"server": {"loginPageMessage": "photos \\ud83d\\udcf7"}}', admin_key)
    assert response.status_code == 200
    assert get_config().server.loginPageMessage == "photos 📷"


@pytest.mark.parametrize("raw, reason", [
    ("{", "not valid JSON"),
    (b'{"server": {"loginPageMessage": "\xff\xfe"}}', "not valid JSON"),  # not UTF-8
    ('{"trash": {"days": Infinity}}', "Infinity is not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_bodies_that_are_not_a_json_object_are_400_with_the_reason(admin_key, raw, reason):
    response = put_config(raw, admin_key)
    assert response.status_code == 400
    assert reason in response.json()["message"]
    assert response.json() | {"message": ""} == {"message": "", "statusCode": 400, "error": "Bad Request"}


def test_a_body_that_is_not_sent_as_json_is_refused(admin_key):
    response = put_config('{"trash": {"days": 3}}', admin_key, content_type="text/plain")
    assert response.status_code == 400 and "application/json" in response.json()["message"]
    assert get_config().trash.days == 30


def test_a_body_too_large_is_a_json_413(admin_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = put_config(json.dumps({"server": {"loginPageMessage": "x" * 2000}}), admin_key)
    assert response.status_code == 413
    assert response.json() == {"message": "The request body is too large.", "statusCode": 413,
                               "error": "Payload Too Large"}


def test_wrong_method_is_a_json_405_naming_the_allowed_ones(admin_key):
    response = Client().delete("/api/server/ping")
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.json() == {"message": "Method DELETE is not allowed on /api/server/ping; use GET.",
                               "statusCode": 405, "error": "Method Not Allowed"}


def test_validation_errors_list_each_field_with_its_path(admin_user):
    client = Client()
    response = client.post("/api/api-keys", json.dumps({"name": ["x"], "permissions": ["asset.read", "asset.fly"]}),
                           content_type=JSON, HTTP_X_API_KEY=ApiKey.issue(admin_user, "k")[1])
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation failed"
    assert [error["path"] for error in body["errors"]] == [["name"], ["permissions"]]
    # Our own validators' sentences come through without pydantic's "Value error, " prefix.
    assert body["errors"][1]["message"].startswith("Unknown permission asset.fly: use Immich's names")


def test_an_unexpected_failure_is_a_json_500_without_details(admin_key, monkeypatch, caplog):
    import settings_app.api

    def broken():
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(settings_app.api, "defaults", broken)
    response = Client().get("/api/system-config/defaults", **admin_key)
    assert response.status_code == 500
    body = response.json()
    assert body["statusCode"] == 500 and body["error"] == "Internal Server Error"
    assert "secret internal detail" not in response.content.decode()
    assert "secret internal detail" in caplog.text  # but the server log has it


def test_the_api_root_and_unknown_paths_are_json_404s():
    for path in ("/api/", "/api/no-such-endpoint", "/api/system-config/nope"):
        response = Client().get(path)
        assert response.status_code == 404 and response["Content-Type"].startswith("application/json"), path
        assert response.json()["message"] == f"Cannot GET {path}"


def test_a_request_django_refuses_before_any_view_is_a_json_400():
    response = Client(HTTP_HOST="evil.example").get("/api/server/ping")
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request" and "evil.example" in body["message"]
