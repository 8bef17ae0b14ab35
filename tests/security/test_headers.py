"""Security headers: the Content-Security-Policy on every page (map style hosts allowed for images and
data), and HTTPS=true switching on HSTS, secure cookies and the proxy's X-Forwarded-Proto."""

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from config.csp import HEADER
from settings_app.services import save_values

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, list[str]]:
    policy = response[HEADER]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login/", "/no-such-page/", "/custom.css", "/api/server/ping"])
def test_anonymous_pages_carry_the_policy(path):
    policy = directives(Client().get(path))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["style-src"] == ["'self'"]
    assert {"'self'", "data:", "blob:"} <= set(policy["img-src"])


def test_a_bad_request_page_carries_the_policy():
    response = Client().get("/login/", HTTP_HOST="evil.example")  # not in ALLOWED_HOSTS: 400
    assert response.status_code == 400 and "frame-ancestors 'none'" in response[HEADER]


@pytest.mark.parametrize("path", ["/admin/system-settings/", "/admin/jobs/", "/console/",
                                  "/console/users_app/authfailure/", "/photos/", "/map/", "/upload/"])
def test_signed_in_pages_carry_the_policy(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert directives(response)["script-src"] == ["'self'"]
    assert "<style>" not in response.content.decode()  # inline <style> would be refused


def test_the_configured_map_style_hosts_may_serve_images_and_data(admin_user):
    assert save_values({"map.lightStyle": "https://tiles.example.com/styles/light.json",
                        "map.darkStyle": "https://dark.example.net:8443/dark.json"}, user=admin_user).ok
    policy = directives(Client().get("/login/"))
    for directive in ("img-src", "connect-src"):
        assert "https://tiles.example.com" in policy[directive]
        assert "https://dark.example.net:8443" in policy[directive]
    assert "blob:" in policy["worker-src"]
    assert "https://tiles.example.com" not in policy["script-src"]


def test_htmx_is_told_not_to_inject_its_indicator_style():
    page = Client().get("/login/").content.decode()
    config = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", page)
    assert config and json.loads(html.unescape(config.group(1)))["includeIndicatorStyles"] is False


# --- HTTPS=true ----------------------------------------------------------------------------------------

SHOW_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'session': s.SESSION_COOKIE_SECURE, 'csrf': s.CSRF_COOKIE_SECURE, 'hsts': s.SECURE_HSTS_SECONDS, "
    "'proxy': s.SECURE_PROXY_SSL_HEADER}))"
)


def settings_with(tmp_path, **environment) -> dict:
    env = {name: value for name, value in os.environ.items() if name != "HTTPS"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(tmp_path), **environment)
    output = subprocess.run([sys.executable, "-c", SHOW_SETTINGS], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=True, timeout=60).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_https_switches_on_hsts_secure_cookies_and_the_proxy_header(tmp_path):
    assert settings_with(tmp_path, HTTPS="true") == {
        "session": True, "csrf": True, "hsts": 31_536_000, "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    assert settings_with(tmp_path) == {"session": False, "csrf": False, "hsts": 0, "proxy": None}


def test_behind_an_https_proxy_responses_carry_hsts_and_secure_cookies(settings, user):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    page = client.get("/login/")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert page.cookies["csrftoken"]["secure"] is True
    logged_in = client.post("/login/", {"email": "user@example.com", "password": "user-password-123"})
    assert logged_in.status_code == 302 and logged_in.cookies["sessionid"]["secure"] is True
    assert "Strict-Transport-Security" not in Client().get("/login/")  # plain http: no HSTS
