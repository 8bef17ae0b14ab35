"""Errors under /api/ answer in JSON, as Immich's do; the public theme endpoint serves the custom CSS."""

import pytest
from django.test import Client

from settings_app.services import save_values

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"message": "Cannot GET /api/no-such-endpoint", "statusCode": 404, "error": "Not Found"}


def test_unknown_page_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_csrf_failure_on_the_api_is_json(admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.put("/api/system-config", data="{}", content_type="application/json")
    assert response.status_code == 403
    assert response.json()["message"].startswith("CSRF check failed")


def test_server_theme_is_public_and_follows_the_setting(client, admin_user):
    assert client.get("/api/server/theme").json() == {"customCss": ""}
    save_values({"theme.customCss": "body { color: red; }"}, user=admin_user)
    assert client.get("/api/server/theme").json() == {"customCss": "body { color: red; }"}
