"""POST /api/auth/login, /api/auth/logout and /api/api-keys, as Immich clients use them."""

import json

import pytest
from django.test import Client

from settings_app.services import save_values
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db

JSON = "application/json"


def login(client, email, password):
    return client.post("/api/auth/login", json.dumps({"email": email, "password": password}), content_type=JSON)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- Login ------------------------------------------------------------------------------------------


def test_login_returns_immichs_login_response_with_a_usable_bearer_token(admin_user):
    response = login(Client(), "Admin@Example.com ", ADMIN_PASSWORD)

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "accessToken": body["accessToken"],
        "userId": str(admin_user.pk),
        "userEmail": "admin@example.com",
        "name": "Admin",
        "isAdmin": True,
        "profileImagePath": "",
        "shouldChangePassword": False,
        "isOnboarded": True,
    }
    # A fresh client without cookies reaches an admin endpoint with the token alone.
    config = Client().get("/api/system-config", **bearer(body["accessToken"]))
    assert config.status_code == 200
    assert config.json()["trash"]["days"] == 30


def test_login_also_starts_a_cookie_session(admin_user):
    client = Client()
    login(client, "admin@example.com", ADMIN_PASSWORD)
    assert client.get("/api/system-config").status_code == 200


def test_login_of_a_non_admin_says_so_and_admin_endpoints_refuse_its_token(user):
    body = login(Client(), "user@example.com", USER_PASSWORD).json()
    assert body["isAdmin"] is False
    response = Client().get("/api/system-config", **bearer(body["accessToken"]))
    assert response.status_code == 403
    assert response.json()["statusCode"] == 403


@pytest.mark.parametrize("email, password", [("admin@example.com", "wrong"), ("nobody@example.com", ADMIN_PASSWORD)])
def test_wrong_credentials_are_401_without_saying_which_part_was_wrong(admin_user, email, password):
    response = login(Client(), email, password)
    assert response.status_code == 401
    assert response.json() == {"message": "Incorrect email or password", "statusCode": 401, "error": "Unauthorized"}


def test_a_user_scheduled_for_deletion_cannot_log_in(user):
    from django.utils import timezone

    user.deleted_at = timezone.now()
    user.save()
    assert login(Client(), "user@example.com", USER_PASSWORD).status_code == 401


def test_password_login_disabled_refuses_login_but_existing_tokens_keep_working(admin_user):
    token = login(Client(), "admin@example.com", ADMIN_PASSWORD).json()["accessToken"]
    assert save_values({"passwordLogin.enabled": False}, user=admin_user).ok

    response = login(Client(), "admin@example.com", ADMIN_PASSWORD)
    assert response.status_code == 401
    assert response.json()["message"] == "Password login has been disabled"
    assert Client().get("/api/system-config", **bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "body, bad_fields",
    [
        ({}, {"email", "password"}),
        ({"email": "admin@example.com"}, {"password"}),
        ({"email": "not-an-email", "password": "x"}, {"email"}),
        ({"email": 5, "password": ["x"]}, {"email", "password"}),
    ],
)
def test_login_validation_errors_use_immichs_400_shape(admin_user, body, bad_fields):
    response = Client().post("/api/auth/login", json.dumps(body), content_type=JSON)
    assert response.status_code == 400
    payload = response.json()
    assert payload["message"] == "Validation failed"
    assert payload["statusCode"] == 400
    assert {tuple(error["path"]) for error in payload["errors"]} == {(name,) for name in bad_fields}
    assert all(error["message"] for error in payload["errors"])


@pytest.mark.parametrize("raw", ["{", "[]", '"admin"', "NaN"])
def test_login_body_that_is_not_a_json_object_is_400(raw):
    response = Client().post("/api/auth/login", raw, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400


def test_login_refuses_form_posts_so_no_other_site_can_log_a_browser_in(admin_user):
    # A cross-site HTML form can only send form-encoded or text/plain bodies.
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/auth/login", {"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert "application/json" in response.json()["message"]
    response = client.post("/api/auth/login", json.dumps({"email": "admin@example.com", "password": ADMIN_PASSWORD}),
                           content_type="text/plain")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_login_with_json_needs_no_csrf_token(admin_user):
    response = login(Client(enforce_csrf_checks=True), "admin@example.com", ADMIN_PASSWORD)
    assert response.status_code == 201


def test_wrong_method_is_a_json_405():
    response = Client().get("/api/auth/login")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["statusCode"] == 405


# --- Logout -----------------------------------------------------------------------------------------


def test_logout_ends_the_bearer_token(admin_user):
    token = login(Client(), "admin@example.com", ADMIN_PASSWORD).json()["accessToken"]
    response = Client().post("/api/auth/logout", **bearer(token))
    assert response.status_code == 200
    assert response.json() == {"successful": True, "redirectUri": "/login/?autoLaunch=0"}
    assert Client().get("/api/system-config", **bearer(token)).status_code == 401


def test_logout_ends_the_cookie_session_and_needs_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    login(client, "admin@example.com", ADMIN_PASSWORD)
    assert client.post("/api/auth/logout").status_code == 403  # no CSRF token: refused
    assert client.get("/api/system-config").status_code == 200

    client.get("/login/")  # the page sets the CSRF cookie
    response = client.post("/api/auth/logout", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200
    assert client.get("/api/system-config").status_code == 401


def test_logout_without_authentication_is_401():
    assert Client().post("/api/auth/logout").status_code == 401


# --- API keys ---------------------------------------------------------------------------------------


def test_create_api_key_shows_the_secret_once_and_the_key_authenticates(admin_client, admin_user):
    response = admin_client.post("/api/api-keys", json.dumps({"name": "sync tool"}), content_type=JSON)

    assert response.status_code == 201
    body = response.json()
    key = ApiKey.objects.get()
    described = {"id": str(key.pk), "name": "sync tool", "createdAt": body["apiKey"]["createdAt"],
                 "updatedAt": body["apiKey"]["updatedAt"], "permissions": ["all"]}
    assert body["apiKey"] == described
    assert body == {**described, "secret": body["secret"], "apiKey": described}
    assert body["apiKey"]["createdAt"].endswith("Z")
    assert key.key_hash != body["secret"] and body["secret"] not in key.key_hash

    config = Client().get("/api/system-config", HTTP_X_API_KEY=body["secret"])
    assert config.status_code == 200

    listed = admin_client.get("/api/api-keys")
    assert listed.json() == [described]
    assert body["secret"] not in listed.content.decode()
    assert key.key_hash not in listed.content.decode()


def test_key_secrets_are_letters_and_digits_so_no_command_line_takes_one_for_an_option(admin_user):
    # A url-safe token starts with "-" once in 64: `immich login <url> -abc…` then fails ("unknown option").
    secrets = [ApiKey.issue(admin_user, f"key {n}")[1] for n in range(200)]
    assert all(secret.isascii() and secret.isalnum() and len(secret) == 43 for secret in secrets)
    assert len(set(secrets)) == 200


def test_api_key_defaults(admin_client):
    body = admin_client.post("/api/api-keys", "{}", content_type=JSON).json()
    assert body["apiKey"]["name"] == "API Key"
    assert body["apiKey"]["permissions"] == ["all"]


def test_a_key_can_be_created_with_a_bearer_token_or_another_key(admin_user):
    token = login(Client(), "admin@example.com", ADMIN_PASSWORD).json()["accessToken"]
    first = Client().post("/api/api-keys", json.dumps({"name": "one"}), content_type=JSON, **bearer(token))
    assert first.status_code == 201
    second = Client().post("/api/api-keys", json.dumps({"name": "two", "permissions": ["all"]}), content_type=JSON,
                           HTTP_X_API_KEY=first.json()["secret"])
    assert second.status_code == 201
    assert list(admin_user.api_keys.values_list("name", flat=True).order_by("name")) == ["one", "two"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"permissions": "all"}, "permissions"),
        ({"permissions": ["asset.fly"]}, "permissions"),
        ({"permissions": []}, "permissions"),
    ],
)
def test_bad_api_key_requests_are_400_and_create_nothing(admin_client, body, field):
    response = admin_client.post("/api/api-keys", json.dumps(body), content_type=JSON)
    assert response.status_code == 400
    payload = response.json()
    assert payload["message"] == "Validation failed"
    assert [error["path"] for error in payload["errors"]] == [[field]]
    assert not ApiKey.objects.exists()


def test_narrower_permissions_are_stored_and_enforced(admin_client):
    response = admin_client.post("/api/api-keys", json.dumps({"permissions": ["systemConfig.read"]}),
                                 content_type=JSON)
    assert response.status_code == 201 and response.json()["permissions"] == ["systemConfig.read"]
    narrow = {"HTTP_X_API_KEY": response.json()["secret"]}
    # Endpoints that name no permission (system-config is one) need an "all" key.
    refused = Client().get("/api/system-config", **narrow)
    assert refused.status_code == 403 and refused.json()["message"] == "Missing required permission: all"
    refused = Client().get("/api/api-keys", **narrow)
    assert refused.status_code == 403 and refused.json()["message"] == "Missing required permission: apiKey.read"
    assert Client().get("/api/api-keys/me", **narrow).json()["permissions"] == ["systemConfig.read"]


def test_users_see_and_delete_only_their_own_keys(admin_client, admin_user, user, user_client):
    own, _ = ApiKey.issue(admin_user, "mine")
    theirs, their_secret = ApiKey.issue(user, "theirs")

    assert [key["name"] for key in admin_client.get("/api/api-keys").json()] == ["mine"]
    assert admin_client.get(f"/api/api-keys/{theirs.pk}").json() == {
        "message": "API Key not found", "statusCode": 400, "error": "Bad Request"}
    assert admin_client.delete(f"/api/api-keys/{theirs.pk}").status_code == 400
    assert ApiKey.objects.filter(pk=theirs.pk).exists()
    assert Client().get("/api/api-keys", HTTP_X_API_KEY=their_secret).json()[0]["name"] == "theirs"

    assert admin_client.get(f"/api/api-keys/{own.pk}").json()["name"] == "mine"
    response = admin_client.delete(f"/api/api-keys/{own.pk}")
    assert response.status_code == 204
    assert not ApiKey.objects.filter(pk=own.pk).exists()


def test_a_deleted_key_no_longer_authenticates(admin_user):
    key, secret = ApiKey.issue(admin_user, "temporary")
    client = Client()
    assert client.get("/api/system-config", HTTP_X_API_KEY=secret).status_code == 200
    assert client.delete(f"/api/api-keys/{key.pk}", HTTP_X_API_KEY=secret).status_code == 204
    assert client.get("/api/system-config", HTTP_X_API_KEY=secret).status_code == 401


def test_rename_a_key(admin_client, admin_user):
    key, _ = ApiKey.issue(admin_user, "old")
    response = admin_client.put(f"/api/api-keys/{key.pk}", json.dumps({"name": "new"}), content_type=JSON)
    assert response.status_code == 200
    assert response.json()["name"] == "new"
    key.refresh_from_db()
    assert key.name == "new"


@pytest.mark.parametrize("key_id", ["abc", "999999", "3fa85f64-5717-4562-b3fc-2c963f66afa6"])
def test_unknown_key_ids_are_json_errors(admin_client, key_id):
    response = admin_client.delete(f"/api/api-keys/{key_id}")
    assert response.status_code == 400
    assert response.json()["message"] == "API Key not found"


def test_api_keys_need_authentication():
    for method in ("get", "post"):
        response = getattr(Client(), method)("/api/api-keys")
        assert response.status_code == 401
        assert response.json()["statusCode"] == 401
    assert Client().get("/api/api-keys", HTTP_X_API_KEY="not-a-key").status_code == 401
    assert Client().get("/api/api-keys", HTTP_AUTHORIZATION="Bearer not-a-session").status_code == 401


def test_session_cookie_posts_to_api_keys_need_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post("/api/api-keys", "{}", content_type=JSON).status_code == 403
    assert not ApiKey.objects.exists()
    client.get("/login/")
    response = client.post("/api/api-keys", "{}", content_type=JSON, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 201
