"""Albums in a real chromium: select photos in the timeline, "Add to album" into a new album, share it
with another user from the album page, who then sees it (and its photos) under "Shared with me"; files
dropped onto the album page are uploaded into it."""

import pytest
from playwright.sync_api import Page, expect

from albums_app.models import Album
from tests.browser.test_photos import log_in
from tests.conftest import USER_PASSWORD
from tests.media_app.photo_assets import PHOTOS, add_asset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def photos(user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return [add_asset(user, PHOTOS / name) for name in ("tanners_ridge.jpg", "mongolels.jpg", "thompson-springs.jpg")]


@pytest.fixture
def friend(django_user_model):
    return django_user_model.objects.create_user("friend@example.com", USER_PASSWORD, name="Friend")


def test_create_an_album_from_the_timeline_share_it_and_the_friend_sees_it(page: Page, live_server, user, photos,
                                                                            friend, browser):
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/photos/")
    first, second = photos[0], photos[1]
    page.locator(f'.tile[data-asset-id="{first.id}"]').hover()
    page.locator(f'.tile[data-asset-id="{first.id}"] .check').click()
    page.locator(f'.tile[data-asset-id="{second.id}"]').click()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_role("button", name="Add to album").click()
    page.get_by_label("New album name").fill("Desert trip")
    page.get_by_role("button", name="Add", exact=True).click()
    result = page.locator("[data-album-result]")
    expect(result).to_contain_text("Added 2 to Desert trip")
    album = Album.objects.get(name="Desert trip")
    assert set(album.assets.values_list("pk", flat=True)) == {first.pk, second.pk}

    # Adding the third to the now existing album through the picker.
    third = photos[2]
    page.locator(f'.tile[data-asset-id="{third.id}"]').hover()
    page.locator(f'.tile[data-asset-id="{third.id}"] .check').click()
    page.get_by_role("button", name="Add to album").click()
    page.locator("[data-album-choice]").select_option(label="Desert trip (2)")
    expect(page.get_by_label("New album name")).to_be_hidden()
    page.get_by_role("button", name="Add", exact=True).click()
    expect(result).to_contain_text("Added 1 to Desert trip")

    result.get_by_role("link", name="Desert trip").click()
    expect(page.locator("h1[data-album-name]")).to_have_text("Desert trip")
    expect(page.locator(".album-tile")).to_have_count(3)
    page.get_by_label("User's email").fill("friend@example.com")
    page.locator("form.album-share").first.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_text("Shared with friend@example.com.")).to_be_visible()
    expect(page.locator('[data-member="friend@example.com"]')).to_contain_text("friend@example.com")

    friend_context = browser.new_context()
    friend_page = friend_context.new_page()
    log_in(friend_page, live_server, friend)
    friend_page.get_by_role("link", name="Albums").first.click()
    shared = friend_page.locator('[data-albums="shared"] .album-card')
    expect(shared).to_have_count(1)
    expect(shared).to_contain_text("Desert trip")
    expect(shared).to_contain_text("3 items")
    cover = shared.locator("img")
    friend_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=cover.element_handle())
    shared.click()
    expect(friend_page.locator(".album-tile")).to_have_count(3)
    expect(friend_page.get_by_text("you are viewer")).to_be_visible()
    expect(friend_page.locator('input[name="ids"]')).to_have_count(0)  # a viewer changes nothing
    thumb = friend_page.locator(".album-tile img.thumb").first
    friend_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    friend_context.close()


def test_files_dropped_on_the_album_page_are_uploaded_into_it(page: Page, live_server, user, photos):
    album = Album.objects.create(owner=user, name="Dropped")
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/albums/{album.id}/")
    data = (PHOTOS / "denali.webp").read_bytes()
    transfer = page.evaluate_handle("""bytes => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], "denali.webp", { type: "image/webp" }));
        return transfer;
    }""", list(data))
    page.dispatch_event("[data-album-drop]", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("[data-album-drop]", "drop", {"dataTransfer": transfer})
    expect(page.locator(".album-tile")).to_have_count(1, timeout=20000)
    assert list(album.assets.values_list("original_filename", flat=True)) == ["denali.webp"]
