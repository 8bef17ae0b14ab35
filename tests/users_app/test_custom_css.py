"""Theme → Custom CSS: served at /custom.css to everyone and loaded by every page, login and console
included; it cannot close a <style> element."""

import pytest
from django.test import Client

from settings_app.services import get_config, save_values

pytestmark = pytest.mark.django_db
CSS = "body { background: rgb(1, 2, 3); }\n.login-card { border-width: 3px; }"
LINK = '<link rel="stylesheet" href="/custom.css">'


def test_custom_css_is_served_as_css_to_anonymous_visitors():
    assert save_values({"theme.customCss": CSS}).ok
    response = Client().get("/custom.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert response.content.decode() == CSS


def test_empty_custom_css_is_an_empty_stylesheet():
    response = Client().get("/custom.css")
    assert response.status_code == 200 and response.content == b""


def test_login_page_loads_the_custom_css():
    save_values({"theme.customCss": CSS})
    assert LINK in Client().get("/login/").content.decode()


@pytest.mark.parametrize("url", ["/admin/system-settings/", "/console/", "/console/users_app/user/"])
def test_admin_pages_load_the_custom_css(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert LINK in response.content.decode()


def test_user_pages_load_the_custom_css(user_client):
    assert LINK in user_client.get("/").content.decode()


@pytest.mark.parametrize("css", ["</style><script>alert(1)</script>", "a{} </STYLE >", "<!-- x"])
def test_css_that_could_close_its_style_element_is_refused(css):
    save_values({"theme.customCss": "p { color: red; }"})
    result = save_values({"theme.customCss": css})
    assert not result.ok
    assert "theme.customCss" in result.errors
    assert "</style" in result.errors["theme.customCss"][0]
    assert get_config().theme.customCss == "p { color: red; }"
    assert Client().get("/custom.css").content == b"p { color: red; }"


def test_oversized_css_is_refused():
    result = save_values({"theme.customCss": "a{}" * 40_000})
    assert not result.ok and "theme.customCss" in result.errors


@pytest.mark.browser
def test_custom_css_applies_in_the_browser(live_server, page):
    save_values({"theme.customCss": CSS})
    page.goto(live_server.url + "/login/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(1, 2, 3)"
