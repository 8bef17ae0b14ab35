"""A request for a host name the server does not answer to (typically its LAN address) gets a 400 page
that says which name to add to ALLOWED_HOSTS, without showing the server's configuration."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_a_lan_address_gets_the_allowed_hosts_hint(client):
    page = client.get("/", HTTP_HOST="192.168.1.20:8000")
    assert page.status_code == 400
    text = page.content.decode()
    assert "This server does not answer to this address" in text
    assert "<code>192.168.1.20</code>" in text
    assert "ALLOWED_HOSTS=127.0.0.1,localhost,192.168.1.20</code>" in text
    assert "testserver" not in text and settings.SECRET_KEY not in text  # nothing of the configuration


def test_a_malformed_host_is_not_echoed(client):
    page = client.get("/photos/", HTTP_HOST="evil.example<script>alert(1)</script>")
    assert page.status_code == 400
    text = page.content.decode()
    assert "<script>alert" not in text and "evil.example" not in text
    assert "ALLOWED_HOSTS" in text  # still the hint, with an example address


def test_the_api_answers_json_naming_the_host(client):
    answer = client.get("/api/server/ping", HTTP_HOST="photos.lan")
    assert answer.status_code == 400 and answer["Content-Type"] == "application/json"
    body = answer.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert body["message"] == ("The host name “photos.lan” is not allowed: add it to the ALLOWED_HOSTS environment "
                               "variable and restart the server.")


def test_an_allowed_host_is_served(client, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "192.168.1.20"]
    assert client.get("/api/server/ping", HTTP_HOST="192.168.1.20:8000").json() == {"res": "pong"}


def test_other_bad_requests_get_the_plain_400_page(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
    page = client.post("/login/", {"a": "1", "b": "2", "c": "3"})
    assert page.status_code == 400
    text = page.content.decode()
    assert "400 — Bad request" in text and "ALLOWED_HOSTS" not in text
