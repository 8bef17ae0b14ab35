"""The API layer's authentication (x-api-key, Bearer, session with CSRF) and its OpenAPI document."""

import json

import pytest
from django.test import Client

from tests.conftest import ADMIN_PASSWORD
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db


def test_a_wrong_header_credential_is_401_even_with_a_valid_session(admin_client):
    # An explicit credential that fails never falls back silently to the cookie.
    response = admin_client.get("/api/system-config", HTTP_X_API_KEY="not-a-key")
    assert response.status_code == 401 and response.json()["message"] == "Invalid API key"
    response = admin_client.get("/api/system-config", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401 and response.json()["message"] == "Invalid user token"
    assert admin_client.get("/api/system-config").status_code == 200


def test_header_credentials_need_no_csrf_token_but_the_session_does(admin_user):
    _, secret = ApiKey.issue(admin_user, "tool")
    token = Client().post("/api/auth/login", json.dumps({"email": "admin@example.com", "password": ADMIN_PASSWORD}),
                          content_type="application/json").json()["accessToken"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    for headers, expected in (({"HTTP_X_API_KEY": secret}, 201), ({"HTTP_AUTHORIZATION": f"Bearer {token}"}, 201),
                              ({}, 403)):
        response = browser.post("/api/api-keys", "{}", content_type="application/json", **headers)
        assert response.status_code == expected, headers
    assert "CSRF check failed" in response.json()["message"]
    # Reading needs no token.
    assert browser.get("/api/api-keys").status_code == 200


def test_the_openapi_document_is_public_and_describes_the_api(client):
    response = client.get("/api/spec.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/system-config", "/api/auth/login", "/api/api-keys/{key_id}", "/api/jobs/{name}",
                 "/api/queues/{name}/jobs", "/api/assets", "/api/oauth/authorize", "/api/server/ping"):
        assert path in paths, path
    assert set(paths["/api/system-config"]) == {"get", "put"}
    login_body = paths["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login_body["$ref"].endswith("LoginCredentialDto")
    assert {"email", "password"} <= set(spec["components"]["schemas"]["LoginCredentialDto"]["properties"])
    schemes = spec["components"]["securitySchemes"]
    assert {scheme.get("name") for scheme in schemes.values()} >= {"x-api-key", "sessionid"}
    assert any(scheme.get("scheme") == "bearer" for scheme in schemes.values())
    # Admin-only operations declare their security, public ones none.
    assert paths["/api/system-config"]["get"]["security"]
    assert not paths["/api/server/ping"]["get"].get("security")
