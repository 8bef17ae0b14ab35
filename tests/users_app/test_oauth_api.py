"""Immich's OAuth API against the real provider: /api/oauth/authorize, /callback, /link, /unlink and the
mobile redirect override."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from .conftest import DJANGO_TEST_ORIGIN, local_path, walk_provider

pytestmark = pytest.mark.django_db
WEB_REDIRECT = DJANGO_TEST_ORIGIN + "/auth/login"  # what Immich's web client registers
MOBILE_OVERRIDE = DJANGO_TEST_ORIGIN + "/api/oauth/mobile-redirect"


def post_json(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def authorize(client, redirect_uri=WEB_REDIRECT):
    response = post_json(client, "/api/oauth/authorize", {"redirectUri": redirect_uri})
    assert response.status_code == 201, response.content
    return response.json()["url"]


def redirect_uri_of(url):
    return parse_qs(urlsplit(url).query)["redirect_uri"][0]


def test_authorize_and_callback_log_in_and_return_a_usable_token(oauth_setup, oidc_provider, django_user_model):
    oauth_setup(redirect_uris=[WEB_REDIRECT])
    oidc_provider.set_account("sub-api", email="api@example.com", name="Api", immich_role="admin")
    client = Client()
    url = authorize(client)
    assert redirect_uri_of(url) == WEB_REDIRECT
    back = walk_provider(url)
    assert back.startswith(WEB_REDIRECT + "?code=")
    response = post_json(client, "/api/oauth/callback", {"url": back})
    assert response.status_code == 201, response.content
    body = response.json()
    person = django_user_model.objects.get(oauth_id="sub-api")
    assert body["userId"] == str(person.pk) and body["userEmail"] == "api@example.com" and body["isAdmin"] is True
    # The accessToken authenticates API calls with no cookie at all.
    keys = Client().get("/api/api-keys", HTTP_AUTHORIZATION=f"Bearer {body['accessToken']}")
    assert keys.status_code == 200


def test_api_refusals_are_json(oauth_setup, oidc_provider):
    oauth_setup(redirect_uris=[WEB_REDIRECT], autoRegister=False)
    oidc_provider.set_account("sub-api-refused", email="refused@example.com")
    client = Client()
    back = walk_provider(authorize(client))
    response = post_json(client, "/api/oauth/callback", {"url": back})
    assert response.status_code == 400
    assert response.json()["message"].startswith("OAuth authentication failed")
    assert "_auth_user_id" not in client.session


def test_callback_state_mismatch_via_api(oauth_setup, oidc_provider):
    oauth_setup(redirect_uris=[WEB_REDIRECT])
    oidc_provider.set_account("sub-api-state", email="state-api@example.com")
    client = Client()
    back = walk_provider(authorize(client))
    response = post_json(Client(), "/api/oauth/callback", {"url": back})  # another client: no pending flow
    assert response.status_code == 400 and "OAuth state does not match" in response.json()["message"]


def test_api_validation(oauth_setup):
    oauth_setup()
    client = Client()
    missing = post_json(client, "/api/oauth/authorize", {})
    assert missing.status_code == 400 and missing.json()["errors"][0]["path"] == ["redirectUri"]
    not_json = client.post("/api/oauth/callback", {"url": "x"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
    assert client.get("/api/oauth/authorize").status_code == 405


def test_api_when_oauth_is_disabled(db):
    response = post_json(Client(), "/api/oauth/authorize", {"redirectUri": WEB_REDIRECT})
    assert response.status_code == 400 and response.json()["message"] == "OAuth is not enabled"


def test_discovery_failure_via_api_is_502(oauth_setup):
    from settings_app.services import save_values

    oauth_setup()
    save_values({"oauth.issuerUrl": "http://127.0.0.1:9"})
    response = post_json(Client(), "/api/oauth/authorize", {"redirectUri": WEB_REDIRECT})
    assert response.status_code == 502 and "Could not connect to the issuer URL" in response.json()["message"]


def test_mobile_redirect_override_end_to_end(oauth_setup, oidc_provider, django_user_model):
    # Providers refuse app.immich:/// for web clients: the override URI is registered instead, and
    # /api/oauth/mobile-redirect hands the answer over to the app.
    oauth_setup(redirect_uris=[MOBILE_OVERRIDE], mobileOverrideEnabled=True, mobileRedirectUri=MOBILE_OVERRIDE)
    oidc_provider.set_account("sub-mobile", email="mobile@example.com")
    app = Client()
    url = authorize(app, "app.immich:///oauth-callback")
    assert redirect_uri_of(url) == MOBILE_OVERRIDE
    back = walk_provider(url)
    forwarded = app.get(local_path(back))
    assert forwarded.status_code == 307
    app_url = forwarded["Location"]
    assert app_url == "app.immich:///oauth-callback?" + urlsplit(back).query
    response = post_json(app, "/api/oauth/callback", {"url": app_url})
    assert response.status_code == 201, response.content
    assert response.json()["userEmail"] == "mobile@example.com"


def test_without_override_the_app_redirect_is_sent_as_is(oauth_setup):
    oauth_setup(mobileOverrideEnabled=False, mobileRedirectUri=MOBILE_OVERRIDE)
    assert redirect_uri_of(authorize(Client(), "app.immich:///oauth-callback")) == "app.immich:///oauth-callback"


def test_mobile_redirect_keeps_the_query():
    response = Client().get("/api/oauth/mobile-redirect?code=abc&state=x%20y")
    assert response.status_code == 307
    assert response["Location"] == "app.immich:///oauth-callback?code=abc&state=x%20y"


def test_link_and_unlink(oauth_setup, oidc_provider, user, user_client):
    oauth_setup(redirect_uris=[WEB_REDIRECT])
    oidc_provider.set_account("sub-link", email="someone-else@example.com")
    back = walk_provider(authorize(user_client))
    response = post_json(user_client, "/api/oauth/link", {"url": back})
    assert response.status_code == 201 and response.json()["oauthId"] == "sub-link"
    assert response.json() == user_client.get("/api/users/me").json()  # Immich's UserAdminResponseDto
    user.refresh_from_db()
    assert user.oauth_id == "sub-link"
    response = post_json(user_client, "/api/oauth/unlink", {})
    assert response.status_code == 200 and response.json()["oauthId"] == ""
    user.refresh_from_db()
    assert user.oauth_id == ""


def test_link_refuses_an_identity_of_another_user(oauth_setup, oidc_provider, admin_user, user_client, user):
    admin_user.oauth_id = "sub-admin"
    admin_user.save()
    oauth_setup(redirect_uris=[WEB_REDIRECT])
    oidc_provider.set_account("sub-admin", email="admin@example.com")
    back = walk_provider(authorize(user_client))
    response = post_json(user_client, "/api/oauth/link", {"url": back})
    assert response.status_code == 400 and "already been linked" in response.json()["message"]
    user.refresh_from_db()
    assert user.oauth_id == ""


def test_link_needs_a_login(db):
    assert post_json(Client(), "/api/oauth/link", {"url": "x"}).status_code == 401
    assert post_json(Client(), "/api/oauth/unlink", {}).status_code == 401
