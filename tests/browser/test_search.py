"""The search and duplicates pages in a real chromium: a smart search ranks the matching photo first, the
OCR filter finds nothing for absent text, and resolving a duplicate group asks first."""

import pytest
from playwright.sync_api import Page, expect

from ml_client import client as ml_client
from search_app.models import AssetSearchInfo
from settings_app.services import save_values
from tests.search_app.conftest import clip_ml_service, photo, run_job  # noqa: F401  (the session fixture)

from .test_photos import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def colour_photos(user, settings, tmp_path, clip_ml_service):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path / "media"
    ml_client.forget_health()
    assert save_values({"machineLearning.urls": [clip_ml_service.url]}).ok
    assets = [photo(user, tmp_path, (250, 10, 10), name="red.png"),
              photo(user, tmp_path, (10, 10, 250), name="blue.png"),
              photo(user, tmp_path, (245, 12, 12), noise=4, name="red-copy.png")]
    for asset in assets:
        run_job("smartSearch", "SmartSearch", id=str(asset.pk))
    yield assets
    ml_client.forget_health()


def test_smart_search_and_duplicate_review(page: Page, live_server, user, colour_photos, tmp_path):
    red, blue, copy = colour_photos
    log_in(page, live_server, user)
    page.get_by_role("link", name="Search").first.click()
    page.get_by_label("Smart search").fill("a blue photo")
    page.get_by_role("button", name="Search").click()
    tiles = page.locator("[data-search-results] .tile")
    expect(tiles).to_have_count(3)
    expect(tiles.first).to_have_attribute("data-asset-id", str(blue.pk))
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    page.get_by_label("Smart search").fill("")
    page.get_by_label("Text in the image (OCR)").fill("nowhere")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("[data-search-empty]")).to_have_text("Nothing found.")

    run_job("duplicateDetection", "AssetDetectDuplicates", id=str(red.pk))
    page.goto(f"{live_server.url}/duplicates/")
    group = page.locator("[data-duplicate-group]")
    expect(group).to_have_count(1)
    expect(group.locator(".duplicate-asset")).to_have_count(2)
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    group.get_by_role("button", name="Keep ticked, trash the rest").click()
    expect(page.locator("[data-duplicates-empty]")).to_be_visible()
    assert "move the others of this group to the trash" in dialogs[0]
    assert not AssetSearchInfo.objects.filter(duplicate_id__isnull=False).exists()
    red.refresh_from_db()
    copy.refresh_from_db()
    assert (red.deleted_at is None) != (copy.deleted_at is None)
