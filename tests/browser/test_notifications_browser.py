"""The Notification settings in a real chromium: each template's live preview follows what is typed (not
saved), and "Send test email" sends through the form's unsaved SMTP settings to a real SMTP server and
reports its answer."""

import pytest
from playwright.sync_api import Page, expect

from settings_app.services import get_config
from tests.browser.test_settings_dashboard import log_in
from tests.notifications_app.conftest import certificate, start_smtp  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_live_previews_and_test_email(page: Page, live_server, admin_user, start_smtp):  # noqa: F811
    box = start_smtp()
    log_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/system-settings/?isOpen=notifications")
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "notifications")

    update = page.locator('[data-email-preview="album-update"]')
    expect(update.locator("[data-preview-subject]")).to_have_text("New media has been added to an album - Summer 2025")
    frame = update.frame_locator("iframe")
    expect(frame.locator("body")).to_contain_text("New photos have been added to the album Summer 2025")

    page.locator("#id_templates_email_album_update_template").fill("<h1>{albumName} for {recipientName}</h1>")
    expect(frame.locator("h1")).to_have_text("Summer 2025 for John Smith")
    expect(update).to_contain_text("your template")
    assert get_config().templates.email.albumUpdateTemplate == ""  # nothing saved

    page.get_by_label("Enable email notifications").check()  # the SMTP fields are disabled until then
    page.get_by_label("From address").fill("Photos <photos@example.com>")
    page.get_by_label("SMTP host").fill("127.0.0.1")
    page.get_by_label("SMTP port").fill(str(box.port))
    page.get_by_role("button", name="Send test email").click()
    expect(page.locator("#email-test-result")).to_contain_text(
        "Sent to admin@example.com. The server answered: 250 Message accepted for delivery")
    assert [received.rcpt_tos for received in box.messages] == [["admin@example.com"]]
    assert get_config().notifications.smtp.transport.host == ""  # still not saved
