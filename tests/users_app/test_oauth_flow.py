"""OAuth login end to end against a real OpenID provider (npm oidc-provider on 127.0.0.1): the browser
flow through /auth/oauth/start/ and /auth/oauth/callback/, every setting that changes it, and every refusal."""

import base64
import hashlib
import html
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from settings_app.services import save_values
from users_app import oauth

from .conftest import local_path, walk_provider

pytestmark = pytest.mark.django_db
GIB = 1024**3


def logged_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def start(client):
    response = client.get("/auth/oauth/start/")
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def query_of(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# --- Signing algorithms and client authentication ----------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "HS256"])
def test_login_registers_a_new_user_with_the_claims(oauth_setup, oidc_provider, oauth_login, algorithm,
                                                    django_user_model):
    oauth_setup(client_metadata={"id_token_signed_response_alg": algorithm})
    oidc_provider.set_account(f"sub-{algorithm}", email="  Alice@Example.COM ", name="Alice Liddell",
                              preferred_username="alice", immich_quota=5, immich_role="admin")
    client = Client()
    response = oauth_login(client)
    assert response.status_code == 302 and response["Location"] == "/"
    user = django_user_model.objects.get(oauth_id=f"sub-{algorithm}")
    assert logged_in_user(client) == user
    assert (user.email, user.name, user.storage_label) == ("alice@example.com", "Alice Liddell", "alice")
    assert user.quota_size_in_bytes == 5 * GIB
    assert user.is_admin and user.is_superuser
    assert client.session[oauth.SESSION_ID_TOKEN].count(".") == 2


def test_the_authorization_request_uses_pkce_s256_state_nonce_scope_and_prompt(oauth_setup, oidc_provider):
    registered = oauth_setup(scope="openid email", prompt="login")
    client = Client()
    url = start(client)
    assert url.startswith(oidc_provider.issuer + "/auth?")
    params = query_of(url)
    assert params["client_id"] == registered["client_id"]
    assert params["redirect_uri"] == "http://testserver/auth/oauth/callback/"
    assert params["scope"] == "openid email" and params["prompt"] == "login"
    assert params["response_type"] == "code" and params["code_challenge_method"] == "S256"
    flow = client.session[oauth.SESSION_FLOWS][params["state"]]
    expected = base64.urlsafe_b64encode(hashlib.sha256(flow["verifier"].encode()).digest()).rstrip(b"=").decode()
    assert params["code_challenge"] == expected
    assert params["nonce"] == flow["nonce"] and len(params["state"]) >= 32
    assert "client_secret" not in url and registered["client_secret"] not in url


def test_no_prompt_parameter_when_the_setting_is_empty(oauth_setup):
    oauth_setup()
    assert "prompt" not in query_of(start(Client()))


@pytest.mark.parametrize(("method", "sent_as"), [("client_secret_post", "body"), ("client_secret_basic", "basic")])
def test_token_endpoint_auth_method(oauth_setup, oidc_provider, oauth_login, method, sent_as, django_user_model):
    oauth_setup(client_metadata={"token_endpoint_auth_method": method}, tokenEndpointAuthMethod=method)
    oidc_provider.set_account(f"sub-{method}", email=f"{method}@example.com")
    assert oauth_login(Client()).status_code == 302
    assert oidc_provider.last_token_request() == {"clientAuthentication": sent_as}
    assert django_user_model.objects.filter(oauth_id=f"sub-{method}").exists()


def test_a_wrong_client_secret_gives_a_clear_page(oauth_setup, oidc_provider, oauth_login):
    oauth_setup()
    save_values({"oauth.clientSecret": "not-the-registered-secret"})
    oidc_provider.set_account("sub-wrong-secret", email="wrong-secret@example.com")
    response = oauth_login(Client())
    assert response.status_code == 400
    text = response.content.decode()
    assert "The provider refused the token request: invalid_client" in text
    assert "Check the Client ID, the client secret and the token endpoint auth method." in text
    assert "not-the-registered-secret" not in text


def test_public_client_without_secret_logs_in_with_pkce(oauth_setup, oidc_provider, oauth_login, django_user_model):
    registered = oauth_setup(client_metadata={"token_endpoint_auth_method": "none"})
    assert not registered.get("client_secret")
    oidc_provider.set_account("sub-public", email="public@example.com")
    client = Client()
    assert oauth_login(client).status_code == 302
    assert oidc_provider.last_token_request() == {"clientAuthentication": "body"}  # client_id only, no secret
    assert logged_in_user(client) == django_user_model.objects.get(oauth_id="sub-public")


def test_signed_userinfo_is_verified_when_the_profile_signing_algorithm_is_set(oauth_setup, oidc_provider,
                                                                              oauth_login, django_user_model):
    oauth_setup(client_metadata={"userinfo_signed_response_alg": "RS256"}, profileSigningAlgorithm="RS256")
    oidc_provider.set_account("sub-jwt-userinfo", email="jwt@example.com", preferred_username="jwt-label",
                              immich_quota=2)
    assert oauth_login(Client()).status_code == 302
    user = django_user_model.objects.get(oauth_id="sub-jwt-userinfo")
    assert (user.storage_label, user.quota_size_in_bytes) == ("jwt-label", 2 * GIB)


def test_signed_userinfo_with_profile_algorithm_none_is_refused(oauth_setup, oidc_provider, oauth_login):
    oauth_setup(client_metadata={"userinfo_signed_response_alg": "RS256"}, profileSigningAlgorithm="none")
    oidc_provider.set_account("sub-jwt-none", email="jwt-none@example.com")
    response = oauth_login(Client())
    assert response.status_code == 400
    assert "userinfo is a signed JWT" in response.content.decode()


def test_wrong_signing_algorithm_gives_a_clear_page(oauth_setup, oidc_provider, oauth_login):
    oauth_setup(client_metadata={"id_token_signed_response_alg": "RS256"})
    save_values({"oauth.signingAlgorithm": "HS256"})
    oidc_provider.set_account("sub-alg", email="alg@example.com")
    client = Client()
    response = oauth_login(client)
    assert response.status_code == 400
    assert "signed with RS256, but the settings expect HS256" in response.content.decode()
    assert logged_in_user(client) is None


def test_expired_id_token_is_refused(oauth_setup, oidc_provider, oauth_login):
    oauth_setup()
    oidc_provider.set_account("sub-expired", email="expired@example.com")
    oidc_provider.shift_next_token_clock(-2 * 3600)  # the ID token (1 h) expired an hour ago
    client = Client()
    response = oauth_login(client)
    assert response.status_code == 400
    assert "ID token has expired" in response.content.decode()
    assert logged_in_user(client) is None


# --- Users: auto register, linking, claims -----------------------------------------------------------


def test_auto_register_off_refuses_unknown_people(oauth_setup, oidc_provider, oauth_login, django_user_model):
    oauth_setup(autoRegister=False)
    oidc_provider.set_account("sub-stranger", email="stranger@example.com")
    client = Client()
    response = oauth_login(client)
    assert response.status_code == 400
    assert "Auto register is off" in response.content.decode()
    assert not django_user_model.objects.filter(email="stranger@example.com").exists()
    assert logged_in_user(client) is None


def test_auto_register_off_still_logs_in_existing_users_by_email_and_links_them(oauth_setup, oidc_provider,
                                                                                  oauth_login, user):
    oauth_setup(autoRegister=False)
    oidc_provider.set_account("sub-existing", email="USER@example.com")
    client = Client()
    assert oauth_login(client).status_code == 302
    user.refresh_from_db()
    assert user.oauth_id == "sub-existing" and logged_in_user(client) == user
    # Next time the subject alone finds the user, even if the provider's email changed.
    oidc_provider.set_account("sub-existing", email="renamed@example.com")
    client = Client()
    assert oauth_login(client).status_code == 302
    assert logged_in_user(client) == user


def test_email_linked_to_another_subject_is_refused(oauth_setup, oidc_provider, oauth_login, user):
    user.oauth_id = "sub-original"
    user.save()
    oauth_setup()
    oidc_provider.set_account("sub-impostor", email="user@example.com")
    client = Client()
    response = oauth_login(client)
    assert response.status_code == 400
    assert "linked to another OAuth identity" in response.content.decode()
    user.refresh_from_db()
    assert user.oauth_id == "sub-original" and logged_in_user(client) is None


def test_user_scheduled_for_deletion_cannot_log_in(oauth_setup, oidc_provider, oauth_login, user):
    from django.utils import timezone

    user.oauth_id, user.deleted_at, user.is_active = "sub-deleted", timezone.now(), False
    user.save()
    oauth_setup()
    oidc_provider.set_account("sub-deleted", email="user@example.com")
    client = Client()
    assert oauth_login(client).status_code == 400
    assert logged_in_user(client) is None


def test_role_claim_is_synced_at_every_login(oauth_setup, oidc_provider, oauth_login, django_user_model):
    oauth_setup()
    oidc_provider.set_account("sub-role", email="role@example.com", immich_role="admin")
    oauth_login(Client())
    person = django_user_model.objects.get(oauth_id="sub-role")
    assert person.is_admin
    oidc_provider.set_account("sub-role", email="role@example.com", immich_role="user")
    client = Client()
    assert oauth_login(client).status_code == 302
    person.refresh_from_db()
    assert not person.is_admin and not person.is_superuser
    assert client.get("/admin/system-settings/").status_code == 403
    # Promoted again by the provider; a login without the claim keeps the role as it is.
    oidc_provider.set_account("sub-role", email="role@example.com", immich_role="admin")
    oauth_login(Client())
    oidc_provider.set_account("sub-role", email="role@example.com")
    oauth_login(Client())
    person.refresh_from_db()
    assert person.is_admin


def test_new_user_without_role_claim_is_a_plain_user(oauth_setup, oidc_provider, oauth_login, django_user_model):
    oauth_setup()
    oidc_provider.set_account("sub-plain", email="plain@example.com", immich_role="superhero")
    oauth_login(Client())
    assert not django_user_model.objects.get(oauth_id="sub-plain").is_admin


def test_storage_label_claim_applies_to_new_users_only(oauth_setup, oidc_provider, oauth_login, django_user_model):
    oauth_setup()
    oidc_provider.set_account("sub-label", email="label@example.com", preferred_username="first-label")
    oauth_login(Client())
    oidc_provider.set_account("sub-label", email="label@example.com", preferred_username="second-label")
    oauth_login(Client())
    assert django_user_model.objects.get(oauth_id="sub-label").storage_label == "first-label"


def test_claim_names_are_settings(oauth_setup, oidc_provider, oauth_login, django_user_model):
    # Map the label to the provider's `name` claim and the role to a claim the provider does not send.
    oauth_setup(storageLabelClaim="name", roleClaim="groups")
    oidc_provider.set_account("sub-mapped", email="mapped@example.com", name="Mapped/Label",
                              preferred_username="ignored", immich_role="admin")
    oauth_login(Client())
    person = django_user_model.objects.get(oauth_id="sub-mapped")
    assert person.storage_label == "MappedLabel"  # made a single safe folder name
    assert not person.is_admin


def test_storage_label_already_taken_leaves_the_new_user_without_one(oauth_setup, oidc_provider, oauth_login,
                                                                     user, django_user_model):
    user.storage_label = "taken"
    user.save()
    oauth_setup()
    oidc_provider.set_account("sub-taken", email="taken@example.com", preferred_username="taken")
    assert oauth_login(Client()).status_code == 302
    assert django_user_model.objects.get(oauth_id="sub-taken").storage_label is None


@pytest.mark.parametrize(("claims", "default", "expected"), [
    ({"immich_quota": 7}, None, 7 * GIB),
    ({"immich_quota": "1.5"}, 3, int(1.5 * GIB)),
    ({"immich_quota": 0}, 3, 0),
    ({}, 3, 3 * GIB),
    ({"immich_quota": "lots"}, 3, 3 * GIB),
    ({"immich_quota": -1}, None, None),
    ({}, None, None),
])
def test_storage_quota_from_claim_or_default(oauth_setup, oidc_provider, oauth_login, django_user_model,
                                             claims, default, expected):
    oauth_setup(defaultStorageQuota=default)
    oidc_provider.set_account("sub-quota", email="quota@example.com", **claims)
    oauth_login(Client())
    assert django_user_model.objects.get(oauth_id="sub-quota").quota_size_in_bytes == expected


def test_scope_without_profile_gets_no_profile_claims(oauth_setup, oidc_provider, oauth_login, django_user_model):
    oauth_setup(scope="openid email", defaultStorageQuota=4)
    oidc_provider.set_account("sub-scope", email="scope@example.com", name="Scoped", preferred_username="scoped",
                              immich_quota=9, immich_role="admin")
    oauth_login(Client())
    person = django_user_model.objects.get(oauth_id="sub-scope")
    assert (person.name, person.storage_label, person.quota_size_in_bytes, person.is_admin) == (
        "scope@example.com", None, 4 * GIB, False)


def test_settings_are_read_at_each_login(oauth_setup, oidc_provider, oauth_login, django_user_model):
    oauth_setup()
    oidc_provider.set_account("sub-live", email="live@example.com")
    assert oauth_login(Client()).status_code == 302
    second = oauth_setup(client_metadata={"id_token_signed_response_alg": "HS256"}, autoRegister=False)
    client = Client()
    assert query_of(start(client))["client_id"] == second["client_id"]
    oidc_provider.set_account("sub-newcomer", email="newcomer@example.com")
    assert oauth_login(Client()).status_code == 400  # auto register now off


def test_safe_next_is_honoured_after_login(oauth_setup, oidc_provider, oauth_login):
    oauth_setup()
    oidc_provider.set_account("sub-next", email="next@example.com")
    assert oauth_login(Client(), start="/auth/oauth/start/?next=/admin/jobs/")["Location"] == "/admin/jobs/"
    assert oauth_login(Client(), start="/auth/oauth/start/?next=https://evil.example/")["Location"] == "/"


# --- Protocol refusals -------------------------------------------------------------------------------


def test_state_mismatch_is_refused(oauth_setup, oidc_provider):
    oauth_setup()
    oidc_provider.set_account("sub-state", email="state@example.com")
    client = Client()
    back = walk_provider(start(client))
    tampered = back.replace("state=", "state=x")
    response = client.get(local_path(tampered))
    assert response.status_code == 400
    assert "OAuth state does not match" in response.content.decode()
    assert logged_in_user(client) is None


def test_a_callback_from_another_browser_is_refused(oauth_setup, oidc_provider):
    oauth_setup()
    oidc_provider.set_account("sub-csrf", email="csrf@example.com")
    back = walk_provider(start(Client()))
    victim = Client()
    response = victim.get(local_path(back))  # login CSRF: the victim's session never started this flow
    assert response.status_code == 400 and logged_in_user(victim) is None


def test_a_state_is_used_once(oauth_setup, oidc_provider):
    oauth_setup()
    oidc_provider.set_account("sub-once", email="once@example.com")
    client = Client()
    back = walk_provider(start(client))
    assert client.get(local_path(back)).status_code == 302
    client.logout()
    assert client.get(local_path(back)).status_code == 400


def test_tampered_pkce_verifier_is_refused_by_the_provider(oauth_setup, oidc_provider):
    oauth_setup()
    oidc_provider.set_account("sub-pkce", email="pkce@example.com")
    client = Client()
    url = start(client)
    back = walk_provider(url)
    session = client.session
    flows = session[oauth.SESSION_FLOWS]
    flows[query_of(url)["state"]]["verifier"] = "A" * 64
    session[oauth.SESSION_FLOWS] = flows
    session.save()
    response = client.get(local_path(back))
    assert response.status_code == 400
    text = response.content.decode()
    assert "The provider refused the token request: invalid_grant" in text and "PKCE" in text
    assert logged_in_user(client) is None


def test_provider_requires_pkce(oauth_setup, oidc_provider):
    """The real provider refuses an authorization request without code_challenge (PKCE is enforced)."""
    oauth_setup()
    client = Client()
    url = start(client)
    stripped = url.replace("code_challenge=", "ignored=").replace("code_challenge_method=S256", "")
    back = walk_provider(stripped)
    assert "error=invalid_request" in back
    response = client.get(local_path(back))
    assert response.status_code == 400
    assert "The provider refused the login: invalid_request" in response.content.decode()


def test_nonce_must_match(oauth_setup, oidc_provider):
    oauth_setup()
    oidc_provider.set_account("sub-nonce", email="nonce@example.com")
    client = Client()
    url = start(client)
    back = walk_provider(url)
    session = client.session
    flows = session[oauth.SESSION_FLOWS]
    flows[query_of(url)["state"]]["nonce"] = "another-nonce"
    session[oauth.SESSION_FLOWS] = flows
    session.save()
    response = client.get(local_path(back))
    assert response.status_code == 400 and "nonce does not match" in response.content.decode()


def test_issuer_mismatch_in_the_answer_is_refused(oauth_setup, oidc_provider):
    oauth_setup()
    oidc_provider.set_account("sub-iss", email="iss@example.com")
    client = Client()
    back = walk_provider(start(client))
    mixed_up = back.replace("iss=", "iss=https%3A%2F%2Fevil.example&was=")
    response = client.get(local_path(mixed_up))
    assert response.status_code == 400 and "not 'http://127.0.0.1" in html.unescape(response.content.decode())


def test_provider_error_answer_is_shown(oauth_setup):
    oauth_setup()
    client = Client()
    state = query_of(start(client))["state"]
    response = client.get(f"/auth/oauth/callback/?error=access_denied&error_description=User+said+no&state={state}")
    assert response.status_code == 400
    assert "The provider refused the login: access_denied (User said no)." in response.content.decode()


# --- Provider problems -------------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_discovery_down_gives_a_clear_502_page(oauth_setup):
    oauth_setup()
    save_values({"oauth.issuerUrl": f"http://127.0.0.1:{free_port()}"})
    response = Client().get("/auth/oauth/start/")
    assert response.status_code == 502
    text = response.content.decode()
    assert "Could not connect to the issuer URL" in text and "Connection refused" in text
    assert "?autoLaunch=0" in text


def test_wrong_issuer_gives_a_clear_page(oauth_setup, oidc_provider):
    oauth_setup()
    port = urlsplit(oidc_provider.issuer).port
    save_values({"oauth.issuerUrl": f"http://localhost:{port}"})
    response = Client().get("/auth/oauth/start/")
    assert response.status_code == 400
    assert f"The provider says its issuer is '{oidc_provider.issuer}'" in html.unescape(response.content.decode())


def test_discovery_404_gives_a_clear_page(oauth_setup, oidc_provider):
    oauth_setup()
    save_values({"oauth.issuerUrl": oidc_provider.issuer + "/not-an-issuer"})
    response = Client().get("/auth/oauth/start/")
    assert response.status_code == 502 and "answered HTTP 404" in response.content.decode()


def test_request_timeout_setting_applies(oauth_setup):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts connections, never answers
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        oauth_setup()
        save_values({"oauth.issuerUrl": f"http://127.0.0.1:{silent.getsockname()[1]}", "oauth.timeout": 300})
        response = Client().get("/auth/oauth/start/")
        assert response.status_code == 502
        assert "did not answer within 300 ms" in response.content.decode()
    finally:
        silent.close()


def test_provider_going_down_during_login_gives_a_502(oauth_setup, oidc_provider):
    from .conftest import start_provider, stop_provider

    process, issuer = start_provider()
    try:
        registered = requests.post(issuer + "/reg", json={"redirect_uris": ["http://testserver/auth/oauth/callback/"]},
                                   timeout=10).json()
        oauth_setup()
        save_values({"oauth.issuerUrl": issuer, "oauth.clientId": registered["client_id"],
                     "oauth.clientSecret": registered["client_secret"],
                     "oauth.tokenEndpointAuthMethod": "client_secret_basic"})
        client = Client()
        back = walk_provider(start(client))
    finally:
        stop_provider(process)
    response = client.get(local_path(back))
    assert response.status_code == 502 and "Could not connect" in response.content.decode()


def test_oauth_disabled(oauth_setup):
    oauth_setup(enabled=False)
    response = Client().get("/auth/oauth/start/")
    assert response.status_code == 400 and "OAuth is not enabled" in response.content.decode()


def test_loopback_issuer_is_refused_unless_allowed(oauth_setup, oidc_provider, settings):
    oauth_setup()
    settings.OAUTH_ALLOW_PRIVATE_ISSUERS = False
    response = Client().get("/auth/oauth/start/")
    assert response.status_code == 400
    assert "points to an internal address (127.0.0.1)" in response.content.decode()
    save_values({"oauth.allowInsecureRequests": True})  # the administrator's explicit choice
    assert Client().get("/auth/oauth/start/").status_code == 302


# --- Logout ------------------------------------------------------------------------------------------


def test_logout_of_an_oauth_session_ends_the_provider_session(oauth_setup, oidc_provider, oauth_login):
    oauth_setup()
    oidc_provider.set_account("sub-logout", email="logout@example.com")
    client = Client()
    oauth_login(client)
    id_token = client.session[oauth.SESSION_ID_TOKEN]
    response = client.post("/logout/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(oidc_provider.issuer + "/session/end?")
    assert query_of(location)["id_token_hint"] == id_token
    assert logged_in_user(client) is None
    # The real provider accepts the hint (its logout confirmation page).
    assert requests.get(location, timeout=10).status_code == 200


def test_end_session_endpoint_setting_wins(oauth_setup, oidc_provider, oauth_login):
    oauth_setup(endSessionEndpoint="https://sso.example.com/logout?from=photos")
    oidc_provider.set_account("sub-logout2", email="logout2@example.com")
    client = Client()
    oauth_login(client)
    location = client.post("/logout/")["Location"]
    assert location.startswith("https://sso.example.com/logout?from=photos&id_token_hint=")


def test_password_session_logout_stays_local(oauth_setup, admin_client):
    oauth_setup()
    assert admin_client.post("/logout/")["Location"] == "/login/"
