"""htmx requests to pages: an expired session sends the browser to the login page (HX-Redirect) instead of
swapping a login form into a panel; plain navigation keeps the ordinary redirect."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/admin/system-settings/?isOpen=trash"}


def test_htmx_request_without_a_session_gets_hx_redirect_back_to_the_current_page():
    for method, path in (("get", "/admin/system-settings/trash/"), ("post", "/admin/system-settings/trash/"),
                         ("get", "/admin/jobs/"), ("get", "/photos/")):
        response = getattr(Client(), method)(path, **HTMX)
        assert response.status_code == 200, path
        assert response["HX-Redirect"] == "/login/?next=%2Fadmin%2Fsystem-settings%2F%3FisOpen%3Dtrash", path
        assert response.content == b"", path  # nothing to swap into the panel


def test_a_foreign_current_url_is_not_used_as_the_next_page():
    response = Client().get("/admin/jobs/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/x")
    assert response["HX-Redirect"] == "/login/?next=%2Fadmin%2Fjobs%2F"


def test_plain_navigation_keeps_the_redirect_to_login():
    response = Client().get("/admin/system-settings/trash/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/system-settings/trash/"


def test_htmx_redirects_elsewhere_are_left_alone(admin_client):
    # Not a login redirect (e.g. after an action), so htmx follows it as usual.
    response = admin_client.post("/trash/empty/", {"confirm": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 302 and "HX-Redirect" not in response
