"""The Authentication settings around OAuth: the login page button and auto launch, the settings-page
fragment (redirect URIs, "Test configuration"), issuer URL validation on save, and the client secret never
leaving the server."""

import html
import logging

import pytest
from django.test import Client

from settings_app.services import get_config, save_values

from .conftest import local_path, walk_provider

pytestmark = pytest.mark.django_db
EXTRA = "/auth/oauth/settings-extra"
TEST_CONFIG = "/auth/oauth/test-config"


def text_of(response) -> str:
    return html.unescape(response.content.decode())


# --- Login page ----------------------------------------------------------------------------------------


def test_login_page_shows_the_button_text_as_text_only_when_enabled(oauth_setup):
    assert "oauth" not in Client().get("/login/").content.decode().lower().split("<main>")[1]
    oauth_setup(buttonText="Sign in with <b>Family SSO</b>")
    page = Client().get("/login/").content.decode()
    assert '<a class="button oauth" href="/auth/oauth/start/">Sign in with &lt;b&gt;Family SSO&lt;/b&gt;</a>' in page


def test_login_button_carries_next(oauth_setup):
    oauth_setup()
    page = Client().get("/login/?next=/admin/jobs/").content.decode()
    assert 'href="/auth/oauth/start/?next=/admin/jobs/"' in page


def test_auto_launch_sends_the_login_page_to_the_provider_unless_bypassed(oauth_setup, oidc_provider):
    oauth_setup(autoLaunch=True)
    response = Client().get("/login/")
    assert response.status_code == 302 and response["Location"] == "/auth/oauth/start/"
    assert Client().get("/login/?next=/admin/jobs/")["Location"] == "/auth/oauth/start/?next=%2Fadmin%2Fjobs%2F"
    bypassed = Client().get("/login/?autoLaunch=0")
    assert bypassed.status_code == 200 and b'name="password"' in bypassed.content
    # And the whole way through: the login page ends logged in.
    oidc_provider.set_account("sub-auto", email="auto@example.com")
    client = Client()
    start = client.get("/login/", follow=False)
    provider_url = client.get(start["Location"])["Location"]
    assert client.get(local_path(walk_provider(provider_url))).status_code == 302
    assert client.session.get("_auth_user_id")


def test_auto_launch_does_nothing_while_oauth_is_disabled(oauth_setup):
    oauth_setup(autoLaunch=True, enabled=False)
    assert Client().get("/login/").status_code == 200


def test_password_login_posts_are_not_auto_launched(oauth_setup, admin_user):
    from tests.conftest import ADMIN_PASSWORD

    oauth_setup(autoLaunch=True)
    response = Client().post("/login/", {"email": admin_user.email, "password": ADMIN_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


# --- Settings page fragment ----------------------------------------------------------------------------


def test_redirect_uris_to_register(oauth_setup, admin_client):
    oauth_setup()
    page = text_of(admin_client.get(EXTRA))
    assert "http://testserver/auth/oauth/callback/" in page
    assert "app.immich:///oauth-callback" in page
    assert "http://testserver/api/oauth/mobile-redirect" in page
    assert 'hx-post="/auth/oauth/test-config"' in page
    save_values({"oauth.mobileOverrideEnabled": True, "oauth.mobileRedirectUri": "https://photos.example/mobile"})
    page = text_of(admin_client.get(EXTRA))
    assert "https://photos.example/mobile" in page and "app.immich:///oauth-callback" not in page


def test_test_configuration_reports_a_working_setup(oauth_setup, oidc_provider, admin_client):
    registered = oauth_setup()
    response = admin_client.post(TEST_CONFIG, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = text_of(response)
    assert "The configuration works" in page and "A login would fail" not in page
    assert oidc_provider.issuer + "/token" in page
    assert "RS256 key" in page and "found in the provider's JWKS" in page
    assert f"client_id={registered['client_id']}" in page
    assert "redirect_uri=http%3A%2F%2Ftestserver%2Fauth%2Foauth%2Fcallback%2F" in page
    assert "plain http" in page  # warned
    assert "<html" not in page  # a fragment
    assert registered["client_secret"] not in page


def test_test_configuration_uses_the_unsaved_form_values(oauth_setup, oidc_provider, admin_client):
    oauth_setup()
    form = {
        "oauth_enabled": "on", "oauth_issuer_url": "http://127.0.0.1:9", "oauth_client_id": "new-client",
        "oauth_client_secret": "", "oauth_token_endpoint_auth_method": "client_secret_post",
        "oauth_scope": "openid email profile", "oauth_prompt": "", "oauth_signing_algorithm": "RS256",
        "oauth_profile_signing_algorithm": "none", "oauth_timeout": "30000", "oauth_button_text": "Login",
        "oauth_storage_label_claim": "preferred_username", "oauth_storage_quota_claim": "immich_quota",
        "oauth_role_claim": "immich_role", "oauth_auto_register": "on", "password_login_enabled": "on",
    }
    page = text_of(admin_client.post(TEST_CONFIG, form))
    assert "A login would fail" in page and "Could not connect to the issuer URL (127.0.0.1:9)" in page
    assert get_config().oauth.issuerUrl == oidc_provider.issuer  # nothing saved
    # The provider's algorithms and auth methods are compared with the settings under test.
    form.update(oauth_issuer_url=oidc_provider.issuer, oauth_signing_algorithm="ES256")
    page = text_of(admin_client.post(TEST_CONFIG, form))
    assert "The provider does not sign ID tokens with ES256 (it offers HS256, RS256)" in page
    form.update(oauth_signing_algorithm="RS256", oauth_scope="email profile")
    page = text_of(admin_client.post(TEST_CONFIG, form))  # refused by the setting's own validation
    assert "The form has errors" in page and "The scope must include openid" in page
    form.update(oauth_scope="openid", oauth_timeout="abc")
    page = text_of(admin_client.post(TEST_CONFIG, form))
    assert "The form has errors" in page and "Request timeout" in page


def test_test_configuration_hs256_needs_the_secret(oauth_setup, admin_client):
    oauth_setup(client_metadata={"token_endpoint_auth_method": "none"}, signingAlgorithm="HS256")
    page = text_of(admin_client.post(TEST_CONFIG))
    assert "HS256 needs the client secret, which is not set." in page


def test_test_configuration_reports_a_wrong_issuer(oauth_setup, oidc_provider, admin_client):
    oauth_setup()
    save_values({"oauth.issuerUrl": oidc_provider.issuer.replace("127.0.0.1", "localhost")})
    page = text_of(admin_client.post(TEST_CONFIG))
    assert f"The provider says its issuer is '{oidc_provider.issuer}'" in page


def test_the_fragments_are_for_administrators_only(oauth_setup, user_client, client, admin_user):
    oauth_setup()
    assert user_client.get(EXTRA).status_code == 403
    assert user_client.post(TEST_CONFIG).status_code == 403
    assert client.get(EXTRA)["Location"].startswith("/login/")
    assert client.post(TEST_CONFIG)["Location"].startswith("/login/")
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.force_login(admin_user)
    assert csrf_checked.post(TEST_CONFIG).status_code == 403
    admin = Client()
    admin.force_login(admin_user)
    assert admin.get(TEST_CONFIG).status_code == 405


# --- Issuer URL validation on save ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://10.1.2.3", "http://192.168.1.5",
                                 "http://169.254.169.254/latest", "http://[::1]:9000", "http://0.0.0.0"])
def test_internal_issuer_urls_are_refused_on_save(db, url):
    result = save_values({"oauth.issuerUrl": url})
    assert not result.ok
    assert "points to an internal address" in result.errors["oauth.issuerUrl"][0]
    assert "Allow insecure requests" in result.errors["oauth.issuerUrl"][0]
    assert get_config().oauth.issuerUrl == ""


def test_internal_issuer_is_accepted_with_allow_insecure_requests(db):
    assert save_values({"oauth.issuerUrl": "http://192.168.1.5", "oauth.allowInsecureRequests": True}).ok


def test_internal_issuer_is_accepted_when_the_environment_allows_it(allow_private_issuers, db):
    assert save_values({"oauth.issuerUrl": "http://127.0.0.1:8080"}).ok


def test_public_issuer_is_accepted(db):
    assert save_values({"oauth.issuerUrl": "https://93.184.215.14"}).ok


def test_non_http_issuer_is_refused(db):
    assert not save_values({"oauth.issuerUrl": "ftp://sso.example.com"}).ok


# --- The client secret never leaves the server ---------------------------------------------------------


def test_the_client_secret_never_appears_in_pages_fragments_api_or_logs(oauth_setup, oidc_provider, admin_client,
                                                                        caplog):
    caplog.set_level(logging.DEBUG)
    registered = oauth_setup()
    secret = registered["client_secret"]
    oidc_provider.set_account("sub-secret", email="secret@example.com")
    seen = []
    client = Client()
    seen.append(client.get("/login/"))
    start = client.get("/auth/oauth/start/")
    seen.append(start)
    back = walk_provider(start["Location"])
    seen.append(client.get(local_path(back)))
    seen += [admin_client.get(EXTRA), admin_client.post(TEST_CONFIG), admin_client.get("/api/system-config"),
             admin_client.get("/admin/system-settings/?isOpen=authentication")]
    save_values({"oauth.signingAlgorithm": "HS256"})  # a failing login (the ID token is RS256)
    failing = Client()
    seen.append(failing.get(local_path(walk_provider(failing.get("/auth/oauth/start/")["Location"]))))
    save_values({"oauth.clientSecret": secret + "-wrong", "oauth.signingAlgorithm": "RS256"})
    failing = Client()
    seen.append(failing.get(local_path(walk_provider(failing.get("/auth/oauth/start/")["Location"]))))
    assert seen[2].status_code == 302 and seen[-1].status_code == 400 and seen[-2].status_code == 400
    for response in seen:
        assert response.status_code < 500
        content = response.content.decode() + "".join(f"{k}: {v}" for k, v in response.items())
        assert secret not in content, response
    assert secret not in caplog.text
    assert "invalid_client" in caplog.text  # the failure was logged, without the secret
