"""The OAuth login button in a real chromium, through the real provider and back."""


import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_button_logs_in_through_the_provider(page: Page, live_server, oauth_setup, oidc_provider,
                                                   django_user_model):
    oauth_setup(redirect_uris=[f"{live_server.url}/auth/oauth/callback/"], buttonText="Sign in with Family SSO")
    oidc_provider.set_account("sub-browser", email="browser@example.com", name="Browser Admin",
                              immich_role="admin")
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with Family SSO").click()
    # Through the provider (it logs the chosen account in at once) and back to the timeline, with the
    # administrator's links in the nav.
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="System settings")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out browser@example.com")).to_be_visible()
    assert django_user_model.objects.get(oauth_id="sub-browser").is_admin


def test_auto_launch_and_its_bypass(page: Page, live_server, oauth_setup, oidc_provider):
    oauth_setup(redirect_uris=[f"{live_server.url}/auth/oauth/callback/"], autoLaunch=True)
    page.goto(f"{live_server.url}/login/?autoLaunch=0")
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("link", name="Login with OAuth")).to_be_visible()
    oidc_provider.set_account("sub-auto-browser", email="auto-browser@example.com")
    page.goto(f"{live_server.url}/login/")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("button", name="Sign out auto-browser@example.com")).to_be_visible()
