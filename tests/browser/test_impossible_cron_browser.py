"""A cron that never fires, in a real chromium: a stored one shows its error on the settings page and the
jobs page, the live preview says "never" for what is typed, and fixing it saves."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from settings_app.services import get_config
from tests.settings_app.test_impossible_values import store_bypassing_validation

from .test_settings_dashboard import log_in, open_category

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_stored_impossible_cron_is_shown_then_fixed(page: Page, live_server, admin_user, tmp_path):
    store_bypassing_validation("backup.database.cronExpression", "0 0 31 2 *")
    log_in(page, live_server, admin_user)

    page.goto(f"{live_server.url}/admin/jobs/")
    backup_row = page.locator("#schedule-backupDatabase")
    expect(backup_row).to_contain_text("Cannot run: Never runs: no date in the next 5 years matches “0 0 31 2 *”.")
    expect(page.locator("#schedule-libraryScan")).not_to_contain_text("Cannot run")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{os.environ['SCREENSHOT_DIR']}/jobs-bad-cron.png", full_page=True)

    open_category(page, live_server, "backup")
    setting = page.locator("#setting-backup_database_cron_expression")
    expect(page.get_by_text("1 saved value is not valid.")).to_be_visible()
    expect(setting.locator(".field-errors")).to_contain_text("Never runs: no date in the next 5 years")
    preview = page.locator("#cron-runs-backup_database_cron_expression")
    expect(preview).to_contain_text("never")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{os.environ['SCREENSHOT_DIR']}/settings-bad-cron.png", full_page=True)

    field = page.locator("#id_backup_database_cron_expression")
    field.fill("0 0 30 2 *")
    expect(preview).to_contain_text("never. Never runs: no date in the next 5 years matches “0 0 30 2 *”.")
    field.fill("0 0 1-0 * *")
    expect(preview).to_contain_text("the day-of-month range “1-0” runs backwards")
    field.fill("30 3 * * *")
    expect(preview).to_contain_text(re.compile(r"Next runs \(.*\): \w{3} \d\d \w{3} \d{4}, 03:30"))

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    expect(page.get_by_text("saved value is not valid")).to_have_count(0)
    assert get_config().backup.database.cronExpression == "30 3 * * *"
