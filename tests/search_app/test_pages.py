"""The search page and the duplicates review page, as a signed-in user sees them."""

import pytest

from search_app.models import AssetSearchInfo

from .conftest import photo, run_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def colour_photos(user, use_clip_ml, tmp_path):
    assets = [photo(user, tmp_path, (250, 10, 10), name="red.png"),
              photo(user, tmp_path, (10, 10, 250), name="blue.png"),
              photo(user, tmp_path, (245, 10, 10), noise=4, name="red-too.png")]
    for asset in assets:
        run_job("smartSearch", "SmartSearch", id=str(asset.pk))
    return assets


def tile_ids(response) -> list[str]:
    import re

    return re.findall(r'data-asset-id="([0-9a-f-]+)"', response.content.decode())


def test_the_search_page_ranks_smart_search_results(colour_photos, user_client):
    red, blue, red_too = colour_photos
    response = user_client.get("/search/", {"q": "blue"})
    assert response.status_code == 200
    assert tile_ids(response)[0] == str(blue.pk)
    filtered = user_client.get("/search/", {"q": "blue", "filename": "red"})
    assert set(tile_ids(filtered)) == {str(red.pk), str(red_too.pk)}


def test_the_search_page_filters_without_a_query_and_says_when_nothing_matches(colour_photos, user_client):
    response = user_client.get("/search/", {"filename": "blue", "type": "IMAGE"})
    assert tile_ids(response) == [str(colour_photos[1].pk)]
    nothing = user_client.get("/search/", {"filename": "green"})
    assert b"data-search-empty" in nothing.content
    bad = user_client.get("/search/", {"after": "yesterday"})
    assert b"after: enter a date as YYYY-MM-DD." in bad.content


def test_the_search_page_pages_with_htmx(colour_photos, user_client, htmx_headers, monkeypatch):
    monkeypatch.setattr("search_app.views.PAGE_SIZE", 2)
    first = user_client.get("/search/", {"q": "red"})
    assert len(tile_ids(first)) == 2 and b'hx-trigger="revealed"' in first.content
    second = user_client.get("/search/", {"q": "red", "page": "2"}, **htmx_headers)
    assert len(tile_ids(second)) == 1 and b"<html" not in second.content


def test_the_duplicates_page_keeps_the_ticked_photo_and_trashes_the_rest(colour_photos, user_client):
    red, blue, red_too = colour_photos
    run_job("duplicateDetection", "AssetDetectDuplicates", id=str(red.pk))
    page = user_client.get("/duplicates/")
    assert page.status_code == 200
    group = AssetSearchInfo.objects.get(asset=red).duplicate_id
    assert f'data-duplicate-group="{group}"'.encode() in page.content and b"data-confirm" in page.content
    response = user_client.post(f"/duplicates/{group}/resolve/", {"keep": [str(red_too.pk)]}, follow=True)
    assert b"Kept 1, 1 moved to the trash." in response.content
    red.refresh_from_db()
    red_too.refresh_from_db()
    assert red.deleted_at is not None and red_too.deleted_at is None
    assert b"data-duplicates-empty" in user_client.get("/duplicates/").content


def test_another_users_group_cannot_be_resolved(colour_photos, admin_client):
    run_job("duplicateDetection", "AssetDetectDuplicates", id=str(colour_photos[0].pk))
    group = AssetSearchInfo.objects.get(asset=colour_photos[0]).duplicate_id
    response = admin_client.post(f"/duplicates/{group}/resolve/", {"keep": [str(colour_photos[0].pk)]}, follow=True)
    assert b"No such duplicate group." in response.content
    colour_photos[2].refresh_from_db()
    assert colour_photos[2].deleted_at is None
