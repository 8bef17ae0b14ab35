"""The System Settings dashboard in a real chromium: edit, unsaved marker, save, reload, errors; and the
screenshots of docs/settings-dashboard.md (written there when UPDATE_SCREENSHOTS=1)."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from settings_app.services import get_config
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def log_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page).to_have_url(f"{live_server.url}/")  # everyone lands on their timeline


def open_category(page: Page, live_server, slug: str) -> None:
    page.goto(f"{live_server.url}/admin/system-settings/?isOpen={slug}")
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", slug)


def test_change_thumbnail_size_mark_save_and_reload(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/system-settings/")
    page.get_by_role("link", name=re.compile("Image Settings")).click()
    expect(page).to_have_url(re.compile(r"isOpen=image"))
    setting = page.locator("#setting-image_thumbnail_size")
    marker = setting.get_by_text("unsaved change")
    expect(marker).to_be_hidden()

    page.get_by_label("Thumbnail resolution").fill("320")
    expect(marker).to_be_visible()
    expect(page.locator("[data-unsaved-summary]")).to_have_text("1 unsaved change")
    page.get_by_label("Thumbnail resolution").fill("250")
    expect(marker).to_be_hidden()  # back to the saved value: nothing unsaved
    page.get_by_label("Thumbnail resolution").fill("320")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    expect(page.get_by_text("These changes apply to new work only")).to_be_visible()
    expect(marker).to_be_hidden()
    assert get_config().image.thumbnail.size == 320
    page.get_by_role("button", name="Generate Thumbnails — ALL").click()
    expect(page.locator(".rerun-status")).to_contain_text("started")

    page.reload()
    expect(page.get_by_label("Thumbnail resolution")).to_have_value("320")


def test_bad_value_shows_the_error_beside_the_field_and_saves_nothing(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "image")
    page.get_by_label("Thumbnail resolution").fill("0")
    page.get_by_label("Preview quality").fill("80")
    page.get_by_role("button", name="Save", exact=True).click()
    errors = page.locator("#setting-image_thumbnail_size .field-errors")
    expect(errors).to_contain_text("Must be a whole number from 1 to 16384 px.")
    expect(page.get_by_label("Thumbnail resolution")).to_have_value("0")  # the typed value stays to be fixed
    assert get_config().image.thumbnail.size == 250


def test_reset_to_default_fills_the_form_and_save_keeps_it(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "trash")
    page.get_by_label("Days in trash").fill("12")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()

    page.get_by_role("button", name="Reset to default").click()
    expect(page.get_by_label("Days in trash")).to_have_value("30")
    expect(page.locator("#setting-trash_days").get_by_text("unsaved change")).to_be_visible()
    assert get_config().trash.days == 12  # not saved until Save
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().trash.days == 30


def test_search_filters_categories_and_cron_preview_follows_typing(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/system-settings/")
    page.get_by_placeholder("Search settings…").fill("thumbnail")
    expect(page.locator(".category-link", has_text="Trash Settings")).to_have_count(0)
    expect(page.locator(".category-link", has_text="Image Settings")).to_have_count(1)

    open_category(page, live_server, "backup")
    runs = page.locator("#cron-runs-backup_database_cron_expression")
    expect(runs).to_contain_text("Next runs")
    page.get_by_label("Schedule").fill("99 * * * *")
    expect(runs).to_contain_text("Invalid cron expression")
    page.get_by_role("button", name="Every 6 hours").click()
    expect(page.get_by_label("Schedule")).to_have_value("0 */6 * * *")
    expect(runs).to_contain_text("Next runs")


def test_turning_off_every_login_asks_first(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "authentication")
    page.get_by_label("Enable password login").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("nobody will be able to log in through the web")).to_be_visible()
    assert get_config().passwordLogin.enabled is True
    page.get_by_role("button", name="Disable both and save").click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().passwordLogin.enabled is False


def settled_screenshot(page: Page, path: Path, visible) -> None:
    """A screenshot once `visible` is on screen and two frames have been painted (a loaded machine may
    otherwise capture a frame in the middle of the swap's scroll)."""
    expect(visible).to_be_in_viewport()
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.screenshot(path=path, animations="disabled")


def test_screenshots(page: Page, live_server, admin_user, tmp_path):
    """Screenshots for the docs: a category open, an error state, the history."""
    target = DOCS_IMG if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1360, "height": 900})
    log_in(page, live_server, admin_user)

    open_category(page, live_server, "image")
    page.get_by_label("Thumbnail resolution").fill("320")
    page.get_by_label("Thumbnail format").select_option("jpeg")
    settled_screenshot(page, target / "settings-category.png", page.locator("#setting-image_thumbnail_size"))

    page.get_by_role("button", name="Save", exact=True).click()
    settled_screenshot(page, target / "settings-saved.png", page.get_by_text("Settings saved"))

    open_category(page, live_server, "backup")
    page.get_by_label("Schedule").fill("0 25 * * *")
    page.get_by_label("Dumps to keep").fill("0")
    page.get_by_role("button", name="Save", exact=True).click()
    settled_screenshot(page, target / "settings-errors.png", page.locator(".field-errors").first)

    open_category(page, live_server, "image")
    page.get_by_role("link", name="History").click()  # the history is scrolled into view when it arrives
    settled_screenshot(page, target / "settings-history.png", page.locator(".history-table"))

    sizes = {name: (target / f"{name}.png").stat().st_size
             for name in ("settings-category", "settings-saved", "settings-errors", "settings-history")}
    assert min(sizes.values()) > 10_000, sizes  # not a blank page
