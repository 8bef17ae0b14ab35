"""The upload page in a real chromium: two photos and a duplicate chosen at once; progress reaches 100%,
each file shows its result, and the duplicate is reported and not stored twice; an XMP sidecar chosen with its
photo is sent with it."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from media_app.models import Asset
from tests.browser.test_settings_dashboard import log_in
from tests.conftest import TESTDATA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTO_A = TESTDATA / "photos" / "mongolels.jpg"
PHOTO_B = TESTDATA / "photos" / "tanners_ridge.jpg"


def test_upload_two_photos_and_a_duplicate(page: Page, live_server, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    log_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/upload/")
    files = [{"name": path.name, "mimeType": "image/jpeg", "buffer": path.read_bytes()} for path in (PHOTO_A, PHOTO_B)]
    page.get_by_label("Choose files").set_input_files(files)
    expect(page.locator("#upload")).to_have_attribute("data-state", "done")
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    expect(page.locator("#upload-summary")).to_have_text("Done: 2 uploaded, 0 duplicates skipped, 0 refused.")

    duplicate = {"name": "copy of mongolels.jpg", "mimeType": "image/jpeg", "buffer": PHOTO_A.read_bytes()}
    page.get_by_label("Choose files").set_input_files([duplicate])
    expect(page.locator("#upload-summary")).to_have_text("Done: 0 uploaded, 1 duplicate skipped, 0 refused.")
    row = page.locator("#upload-list li", has_text="copy of mongolels.jpg")
    expect(row).to_have_attribute("data-status", "duplicate")
    expect(row).to_contain_text("Duplicate: already in your library, not stored again")
    expect(page.locator("#upload-list li[data-status=created]")).to_have_count(2)

    assert sorted(Asset.objects.filter(owner=admin_user).values_list("original_filename", flat=True)) == [
        "mongolels.jpg", "tanners_ridge.jpg"]


def test_a_sidecar_chosen_with_its_photo_goes_with_it(page: Page, live_server, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    log_in(page, live_server, admin_user)
    page.goto(f"{live_server.url}/upload/")
    sidecar = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    page.get_by_label("Choose files").set_input_files([
        {"name": PHOTO_A.name, "mimeType": "image/jpeg", "buffer": PHOTO_A.read_bytes()},
        {"name": "mongolels.xmp", "mimeType": "application/rdf+xml", "buffer": sidecar},  # the <name>.xmp form
        {"name": "lonely.jpg.xmp", "mimeType": "application/rdf+xml", "buffer": sidecar},  # no photo of that name
    ])
    expect(page.locator("#upload-summary")).to_have_text("Done: 1 uploaded, 0 duplicates skipped, 1 refused.")
    expect(page.locator("#upload-list li[data-status=created]")).to_have_text(re.compile(
        r"mongolels\.jpg \+ mongolels\.xmp"))
    expect(page.locator("#upload-list li[data-status=refused]")).to_contain_text("lonely.jpg.xmp")
    asset = Asset.objects.get(owner=admin_user)
    assert Path(asset.sidecar_path).read_bytes() == sidecar and asset.sidecar_path == asset.original_path + ".xmp"
