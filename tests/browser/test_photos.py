"""The photo pages in a real chromium: thumbnails load in the timeline, click + shift-click selects a
range, Delete moves it to the trash, Ctrl+Delete deletes permanently after confirmation, the trash
restores, the map page carries its markers."""

import json
import re

import pytest
from playwright.sync_api import Page, expect

from media_app.models import Asset
from tests.conftest import USER_PASSWORD
from tests.media_app.photo_assets import PHOTOS, add_asset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page).to_have_url(f"{live_server.url}/")


@pytest.fixture
def photos(user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    assets = [add_asset(user, PHOTOS / name) for name in
              ("HMD_Nokia_8.3_5G.jpg", "tanners_ridge.jpg", "mongolels.jpg", "thompson-springs.jpg")]
    return sorted(assets, key=lambda a: a.local_taken_at, reverse=True)  # timeline order


def tile(page: Page, asset):
    return page.locator(f'.tile[data-asset-id="{asset.id}"]')


def test_timeline_shows_thumbnails(page: Page, live_server, user, photos):
    log_in(page, live_server, user)
    expect(page.locator(".tile")).to_have_count(4)
    expect(page.get_by_role("link", name="Upload")).to_have_attribute("href", "/upload/")
    for asset in photos:
        thumb = tile(page, asset).locator("img.thumb")
        thumb.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    expect(page.locator("img.placeholder")).to_have_count(0)  # each replaced by its loaded thumbnail
    # Justified rows: the landscape Nokia tile is wider than it is tall.
    box = tile(page, photos[[a.original_filename for a in photos].index("HMD_Nokia_8.3_5G.jpg")]).bounding_box()
    assert box["width"] > box["height"] * 1.5


def test_click_shift_click_selects_a_range_and_delete_moves_it_to_trash(page: Page, live_server, user, photos):
    log_in(page, live_server, user)
    tile(page, photos[0]).hover()
    tile(page, photos[0]).locator(".check").click()
    tile(page, photos[1]).click(modifiers=["Shift"])
    expect(page.get_by_text("2 selected")).to_be_visible()
    expect(page.locator(".tile.selected")).to_have_count(2)
    page.keyboard.press("Delete")
    expect(page.locator(".tile")).to_have_count(2)
    expect(page.locator("[data-selection-bar]")).to_be_hidden()
    trashed = set(Asset.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))
    assert trashed == {photos[0].pk, photos[1].pk}

    page.goto(f"{live_server.url}/trash/")
    expect(page.locator(".trash-item")).to_have_count(2)
    expect(page.locator(".trash-item").first).to_contain_text("30 days left")
    page.locator(f'.trash-item[data-asset-id="{photos[0].id}"]').get_by_role("button", name="Restore").click()
    expect(page.locator(".trash-item")).to_have_count(1)
    assert Asset.objects.get(pk=photos[0].pk).deleted_at is None
    page.goto(f"{live_server.url}/photos/")
    expect(page.locator(".tile")).to_have_count(3)
    expect(tile(page, photos[0])).to_be_visible()


def test_ctrl_delete_asks_and_deletes_permanently(page: Page, live_server, user, photos):
    log_in(page, live_server, user)
    messages = []

    def answer(dialog, accept):
        messages.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    tile(page, photos[2]).hover()
    tile(page, photos[2]).locator(".check").click()
    page.keyboard.press("Control+Delete")
    expect(page.locator(".tile")).to_have_count(4)  # dismissed: nothing deleted
    assert "Permanently delete 1 item?" in messages[0]
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.keyboard.press("Control+Delete")
    expect(page.locator(".tile")).to_have_count(3)
    assert not Asset.objects.filter(pk=photos[2].pk).exists()
    page.goto(f"{live_server.url}/trash/")
    expect(page.get_by_text("The trash is empty.")).to_be_visible()


def test_empty_trash_asks_first(page: Page, live_server, user, photos):
    Asset.objects.filter(pk=photos[0].pk).update(deleted_at="2026-11-01T00:00:00Z")
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/trash/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Empty trash").click()
    expect(page.locator(".trash-item")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Empty trash").click()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    assert Asset.objects.count() == 3


def test_map_page_has_the_container_and_markers(page: Page, live_server, user, photos):
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/map/")
    expect(page.locator("#map")).to_be_visible()
    markers = json.loads(page.locator("#map-markers").text_content())
    assert {asset_id for asset_id, _lat, _lon in markers} == {str(a.id) for a in photos if a.latitude is not None}
    assert markers
    assert page.evaluate("typeof window.maplibregl") == "object"
    expect(page.locator(".map-marker")).to_have_count(len(markers))
    assert re.match(r"https?://", page.locator("#map").get_attribute("data-light-style"))


def test_infinite_scroll_and_share_a_selection(page: Page, live_server, user, photos, monkeypatch):
    from media_app.services import timeline

    monkeypatch.setattr(timeline, "PAGE_SIZE", 2)
    page.set_viewport_size({"width": 800, "height": 500})
    log_in(page, live_server, user)
    expect(page.locator(".tile")).to_have_count(2)
    page.locator(".load-more").scroll_into_view_if_needed()
    expect(page.locator(".tile")).to_have_count(4)  # both further pages loaded as they were revealed
    tile(page, photos[3]).hover()
    tile(page, photos[3]).locator(".check").click()
    page.get_by_role("button", name="Share").click()
    link = page.get_by_label("Shared link")
    expect(link).to_have_value(re.compile(rf"^{live_server.url}/share/[\w-]+/$"))
    visitor = page.context.browser.new_page()
    visitor.goto(link.input_value())
    expect(visitor.locator(".share-grid a")).to_have_count(1)
    visitor.close()
