"""The Authentication category in chromium: the OAuth extras load inside the form without replacing the
category, and "Test configuration" reports a provider that cannot be reached, saving nothing."""

import socket

import pytest
from playwright.sync_api import Page, expect

from settings_app.services import get_config
from tests.browser.test_settings_dashboard import log_in, open_category

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_oauth_extras_load_and_test_configuration_reports_problems(page: Page, live_server, admin_user, settings):
    settings.OAUTH_ALLOW_PRIVATE_ISSUERS = True
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "authentication")
    expect(page.get_by_text("Redirect URIs to register at the provider")).to_be_visible()
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "authentication")
    expect(page.locator(".oauth-redirect-uris")).to_contain_text(f"{live_server.url}/auth/oauth/callback/")

    page.get_by_label("Enable OAuth login").check()  # the OAuth fields are disabled while it is off
    page.get_by_label("Issuer URL").fill(f"http://127.0.0.1:{dead_port}/")
    page.get_by_role("button", name="Test configuration").click()
    expect(page.locator(".oauth-test-report.failed")).to_contain_text("A login would fail")
    assert get_config().oauth.issuerUrl == ""  # testing saves nothing
