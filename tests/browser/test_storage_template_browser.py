"""The Storage Template editor in a real chromium: typing updates the server-rendered preview (and shows errors
as you type), choosing a preset fills the field, and the dry run reports on the unsaved template."""

import pytest
from playwright.sync_api import Page, expect

from media_app.services import storage
from settings_app.services import get_config

from .test_settings_dashboard import log_in, open_category

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_updates_the_preview_and_a_preset_fills_the_field(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "storage-template")
    root = storage.user_root(admin_user)
    field = page.locator("#id_storage_template_template")
    preview = page.locator("#storage-template-preview")
    expect(preview).to_contain_text(f"{root}/2022/2022-02-03/IMAGE_56437.jpg")

    field.fill("{{y}}/{{MMMM}}/{{filetype}}-{{filename}}")
    expect(preview).to_contain_text(f"{root}/2022/February/IMG-IMAGE_56437.jpg")
    expect(preview).to_contain_text("Approximate path length limit: ")
    field.fill("{{y}}/{{nope}}")
    expect(preview).to_contain_text("unknown variable “nope”")
    field.fill("../admin2/{{filename}}")
    expect(preview).to_contain_text("outside the user's folder")

    page.locator("#storage-template-preset").select_option("{{make}}/{{model}}/{{lensModel}}/{{filename}}")
    expect(field).to_have_value("{{make}}/{{model}}/{{lensModel}}/{{filename}}")
    expect(preview).to_contain_text(f"{root}/FUJIFILM/X-T50/XF27mm F2.8 R WR/IMAGE_56437.jpg")

    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#storage-dry-run")).to_contain_text("0 assets would move")
    assert get_config().storageTemplate.template == "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}"  # nothing saved

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().storageTemplate.template == "{{make}}/{{model}}/{{lensModel}}/{{filename}}"
