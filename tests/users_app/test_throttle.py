"""Password guessing is throttled per (account, client address) and per address: five wrong passwords
answer 429 with Retry-After (form and API), the right password from another address still works, the
address alone is locked after twenty failures across accounts, and the console lists and clears lock-outs."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from users_app import throttle
from users_app.models import AuthFailure

pytestmark = pytest.mark.django_db
GUESSER, OWNER = "203.0.113.7", "198.51.100.20"
LOCKOUTS = "/console/users_app/authfailure/"


def form_login(email, password, address, client=None):
    return (client or Client()).post("/login/", {"email": email, "password": password}, REMOTE_ADDR=address)


def api_login(email, password, address):
    return Client().post("/api/auth/login", json.dumps({"email": email, "password": password}),
                         content_type="application/json", REMOTE_ADDR=address)


def test_form_login_locks_the_pair_after_five_failures(user):
    for _ in range(throttle.PAIR_LIMIT - 1):
        response = form_login("user@example.com", "wrong-password", GUESSER)
        assert response.status_code == 401 and "Incorrect email or password" in response.content.decode()
    locked = form_login("User@Example.com ", "wrong-password", GUESSER)  # same account, however it is typed
    assert locked.status_code == 429
    assert 850 <= int(locked["Retry-After"]) <= 900
    assert "Too many failed login attempts from your address. Try again in 15 minutes." in locked.content.decode()
    # Locked: even the right password from that address is refused, without being checked.
    again = form_login("user@example.com", USER_PASSWORD, GUESSER)
    assert again.status_code == 429 and "Retry-After" in again
    # The owner elsewhere is not locked out.
    client = Client()
    assert form_login("user@example.com", USER_PASSWORD, OWNER, client).status_code == 302
    assert client.get("/").status_code == 200
    # Another account from the guessing address is not locked by this pair either.
    assert form_login("admin@example.com", "wrong", GUESSER).status_code == 401


def test_api_login_answers_json_429_with_retry_after(user):
    for _ in range(throttle.PAIR_LIMIT - 1):
        assert api_login("user@example.com", "nope-nope", GUESSER).status_code == 401
    locked = api_login("user@example.com", "nope-nope", GUESSER)
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    body = locked.json()
    assert body["statusCode"] == 429 and body["error"] == "Too Many Requests"
    assert body["message"].startswith("Too many failed login attempts")
    assert api_login("user@example.com", USER_PASSWORD, GUESSER).status_code == 429
    ok = api_login("user@example.com", USER_PASSWORD, OWNER)
    assert ok.status_code == 201 and ok.json()["userEmail"] == "user@example.com"


def test_form_and_api_failures_count_together(user):
    for index in range(throttle.PAIR_LIMIT - 1):
        login = form_login if index % 2 else api_login
        assert login("user@example.com", "bad-password", GUESSER).status_code == 401
    assert form_login("user@example.com", "bad-password", GUESSER).status_code == 429


def test_a_success_forgets_the_pair_failures(user):
    for _ in range(throttle.PAIR_LIMIT - 1):
        form_login("user@example.com", "wrong-password", GUESSER)
    assert form_login("user@example.com", USER_PASSWORD, GUESSER).status_code == 302
    for _ in range(throttle.PAIR_LIMIT - 1):
        assert form_login("user@example.com", "wrong-password", GUESSER).status_code == 401


def test_the_address_is_locked_after_many_failures_across_accounts(user, admin_user):
    for index in range(throttle.ADDRESS_LIMIT - 1):
        assert form_login(f"nobody{index}@example.com", "x-password", GUESSER).status_code == 401
    assert form_login("nobody-last@example.com", "x-password", GUESSER).status_code == 429
    # Every account from that address now, even with the right password; other addresses are fine.
    assert form_login("admin@example.com", ADMIN_PASSWORD, GUESSER).status_code == 429
    assert form_login("admin@example.com", ADMIN_PASSWORD, OWNER).status_code == 302


def test_the_lock_ends_after_the_lockout(user):
    for _ in range(throttle.PAIR_LIMIT):
        form_login("user@example.com", "wrong-password", GUESSER)
    AuthFailure.objects.update(locked_until=timezone.now() - timedelta(seconds=1),
                               first_failure_at=timezone.now() - timedelta(minutes=16))
    assert form_login("user@example.com", "wrong-password", GUESSER).status_code == 401  # counting afresh
    assert form_login("user@example.com", USER_PASSWORD, GUESSER).status_code == 302


def test_old_failures_are_forgotten_after_the_window(user):
    for _ in range(throttle.PAIR_LIMIT - 1):
        form_login("user@example.com", "wrong-password", GUESSER)
    AuthFailure.objects.update(first_failure_at=timezone.now() - throttle.WINDOW - timedelta(seconds=1))
    assert form_login("user@example.com", "wrong-password", GUESSER).status_code == 401


def test_the_client_address_comes_from_trusted_proxies_only(settings, user):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(throttle.PAIR_LIMIT):
        Client().post("/login/", {"email": "user@example.com", "password": "wrong-pw"}, REMOTE_ADDR="10.0.0.1",
                      HTTP_X_FORWARDED_FOR=f"1.1.1.1, {GUESSER}")
    assert set(AuthFailure.objects.values_list("address", flat=True)) == {GUESSER}  # the proxy's entry, not 1.1.1.1
    # Another client behind the same proxy is not locked.
    other = Client().post("/login/", {"email": "user@example.com", "password": USER_PASSWORD},
                          REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=OWNER)
    assert other.status_code == 302


# --- Console -----------------------------------------------------------------------------------------


def lock_user_from_guesser():
    for _ in range(throttle.PAIR_LIMIT):
        form_login("user@example.com", "wrong-password", GUESSER)
    assert form_login("user@example.com", USER_PASSWORD, GUESSER).status_code == 429


def test_the_console_lists_current_lockouts(admin_client, user):
    lock_user_from_guesser()
    page = admin_client.get(LOCKOUTS).content.decode()
    assert "user@example.com" in page and GUESSER in page and "Locked until" in page
    assert "any account" in page  # the address counter, not locked (5 < 20)
    locked_only = admin_client.get(LOCKOUTS + "?status=locked").content.decode()
    assert "user@example.com" in locked_only and "any account" not in locked_only


def test_clearing_a_lockout_needs_confirmation_and_lets_the_address_in(admin_client, user):
    lock_user_from_guesser()
    pair = AuthFailure.objects.get(subject="user@example.com")
    response = admin_client.post(LOCKOUTS, {"action": "clear_action", "_selected_action": [pair.pk]})
    assert response.status_code == 302 and "/clear/?ids=" in response["Location"]
    confirmation = admin_client.get(response["Location"]).content.decode()
    assert "Clear these lock-outs" in confirmation and f"user@example.com from {GUESSER}" in confirmation
    assert AuthFailure.objects.filter(pk=pair.pk).exists()  # nothing cleared before the confirmation
    done = admin_client.post(LOCKOUTS + "clear/", {"ids": str(pair.pk), "confirm": "yes"}, follow=True)
    assert "Cleared 1 lock-out" in done.content.decode()
    assert not AuthFailure.objects.filter(pk=pair.pk).exists()
    assert form_login("user@example.com", USER_PASSWORD, GUESSER).status_code == 302


def test_clearing_is_admin_only_and_needs_csrf(user_client, admin_user, user):
    lock_user_from_guesser()
    pair = AuthFailure.objects.get(subject="user@example.com")
    assert user_client.get(LOCKOUTS, follow=True).status_code == 403  # via the console's login redirect
    refused = user_client.post(LOCKOUTS + "clear/", {"ids": str(pair.pk), "confirm": "yes"}, follow=True)
    assert refused.status_code == 403
    assert Client().post(LOCKOUTS + "clear/", {"ids": str(pair.pk), "confirm": "yes"}).status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(LOCKOUTS + "clear/", {"ids": str(pair.pk), "confirm": "yes"}).status_code == 403
    assert AuthFailure.objects.filter(pk=pair.pk).exists()
