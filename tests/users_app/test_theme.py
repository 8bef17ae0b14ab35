"""The header's Theme button: System (the browser's prefers-color-scheme), Light or Dark, remembered per
user and written on <html data-theme> of every page (the browser side: tests/browser/test_settings_ux.py)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_user_picks_a_theme_and_every_page_wears_it(user_client, user):
    page = user_client.get("/").content.decode()
    assert "data-theme" not in page.split("<head>")[0]  # System: the stylesheet follows the browser
    assert 'name="theme"' in page and 'value="light"' in page  # the button's next step

    answer = user_client.post("/account/theme/", {"theme": "dark", "next": "/people/"})
    assert answer.status_code == 302 and answer["Location"] == "/people/"
    user.refresh_from_db()
    assert user.theme == "dark"
    assert '<html lang="en" data-theme="dark">' in user_client.get("/people/").content.decode()


def test_a_bad_theme_or_a_foreign_next_is_refused(user_client, user):
    answer = user_client.post("/account/theme/", {"theme": "purple"})
    assert answer.status_code == 400 and "system, light, dark" in answer.content.decode()
    user.refresh_from_db()
    assert user.theme == "system"
    answer = user_client.post("/account/theme/", {"theme": "light", "next": "https://evil.example/"})
    assert answer["Location"] == "/"


def test_anonymous_visitors_have_no_theme_to_set():
    answer = Client().post("/account/theme/", {"theme": "dark"})
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    assert "data-theme" not in Client().get("/login/").content.decode().split("<head>")[0]


def test_the_page_links_icons_and_the_custom_css_last(user_client):
    head = user_client.get("/").content.decode().split("</head>")[0]
    assert 'rel="icon"' in head and 'rel="apple-touch-icon"' in head and 'rel="manifest"' in head
    stylesheets = [line for line in head.splitlines() if 'rel="stylesheet"' in line]
    assert stylesheets[-1].strip() == '<link rel="stylesheet" href="/custom.css">'
