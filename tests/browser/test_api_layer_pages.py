"""In a real chromium: a stale dashboard save (409) is swapped into the card with what changed, and an htmx
click after the session expired lands on the login page, not a login form inside a panel."""

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from settings_app.services import get_config, save_values
from tests.browser.test_settings_dashboard import log_in, open_category
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_stale_save_shows_what_the_other_administrator_changed(page: Page, live_server, admin_user, other_admin):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "trash")
    assert save_values({"trash.days": 12}, user=other_admin).ok  # after this page was opened

    page.get_by_label("Days in trash").fill("20")
    with page.expect_response(re.compile(r"/admin/system-settings/trash/$")) as answer:
        page.get_by_role("button", name="Save", exact=True).click()
    assert answer.value.status == 409
    conflict = page.locator(".conflict")
    expect(conflict).to_contain_text("Days in trash (trash.days) was changed by second-admin@example.com")
    expect(conflict).to_contain_text("30 → 12")
    expect(page.get_by_label("Days in trash")).to_have_value("20")  # the edit is kept
    assert get_config().trash.days == 12


def test_an_htmx_click_after_the_session_ended_goes_to_the_login_page(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/system-settings/")
    page.context.clear_cookies()  # the session expired (or was ended elsewhere)

    page.locator(".category-link[data-slug='image']").click()

    expect(page).to_have_url(f"{live_server.url}/login/?next={quote('/admin/system-settings/', safe='')}")
    expect(page.get_by_label("Password")).to_be_visible()
    assert page.locator("#category-panel").count() == 0  # no login form inside the dashboard
    # Logging in again leads back to the dashboard.
    page.get_by_label("Email").fill(admin_user.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page).to_have_url(f"{live_server.url}/admin/system-settings/")
