"""The login page: the Server welcome message as plain text, and password login switched off (form hidden,
POST refused, existing sessions untouched)."""

import pytest
from django.test import Client

from settings_app.services import save_values
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/system-settings/"


def post_login(client, email="admin@example.com", password=ADMIN_PASSWORD, next_url=""):
    return client.post("/login/" + (f"?next={next_url}" if next_url else ""), {"email": email, "password": password})


def test_welcome_message_is_shown_as_text_with_its_line_breaks():
    save_values({"server.loginPageMessage": "Welcome <b>family</b> & friends\nAsk Anna for an account"})
    html = Client().get("/login/").content.decode()
    assert ('<p class="welcome-message">Welcome &lt;b&gt;family&lt;/b&gt; &amp; friends<br>'
            "Ask Anna for an account</p>") in html
    assert "<b>family</b>" not in html


def test_template_syntax_in_the_welcome_message_is_not_evaluated():
    save_values({"server.loginPageMessage": "{{ request.user }} {% csrf_token %}"})
    html = Client().get("/login/").content.decode()
    assert "{{ request.user }} {% csrf_token %}" in html


def test_no_welcome_message_no_paragraph():
    assert b"welcome-message" not in Client().get("/login/").content


def test_password_login_works_and_honours_a_safe_next(admin_user):
    client = Client()
    response = post_login(client, next_url="/console/")
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get(DASHBOARD).status_code == 200


def test_an_offsite_next_is_ignored(admin_user):
    response = post_login(Client(), next_url="https://evil.example.com/")
    assert response["Location"] == "/"


def test_wrong_password_is_refused(admin_user):
    response = post_login(Client(), password="wrong-password")
    assert response.status_code == 401
    assert b"Incorrect email or password" in response.content


def test_disabled_password_login_hides_the_form_and_refuses_posts(admin_user):
    save_values({"passwordLogin.enabled": False, "oauth.enabled": True, "oauth.buttonText": "Sign in with <SSO>"})
    page = Client().get("/login/")
    html = page.content.decode()
    assert 'name="password"' not in html and 'type="submit"' not in html
    assert "Sign in with &lt;SSO&gt;" in html  # the OAuth button is the way in, its text escaped

    client = Client()
    response = post_login(client)
    assert response.status_code == 401
    assert b"Password login has been disabled" in response.content
    assert client.get(DASHBOARD).status_code == 302  # no session was created

    response = client.post("/login/", {})  # refused whatever is posted, with the same reason
    assert response.status_code == 401 and b"Password login has been disabled" in response.content


def test_disabling_password_login_keeps_existing_sessions(admin_client):
    save_values({"passwordLogin.enabled": False})
    assert admin_client.get(DASHBOARD).status_code == 200


def test_re_enabled_password_login_accepts_logins_again(admin_user):
    save_values({"passwordLogin.enabled": False})
    assert post_login(Client()).status_code == 401
    save_values({"passwordLogin.enabled": True})
    assert post_login(Client()).status_code == 302


def test_both_login_methods_disabled_tells_how_to_recover():
    save_values({"passwordLogin.enabled": False})
    html = Client().get("/login/").content.decode()
    assert "No login method is enabled" in html and "manage.py enable_password_login" in html


def test_a_user_scheduled_for_deletion_cannot_log_in(user):
    from users_app.services import schedule_deletion

    schedule_deletion(user)
    response = post_login(Client(), email="user@example.com", password="user-password-123")
    assert response.status_code == 401


@pytest.mark.browser
def test_login_card_is_centered(live_server, page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/login/")
    box = page.locator(".login-card").bounding_box()
    assert abs((box["x"] + box["width"] / 2) - 640) < 2
    assert abs((box["y"] + box["height"] / 2) - 400) < 40
    assert box["width"] <= 420
