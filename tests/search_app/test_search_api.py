"""The search and duplicates endpoints answer each asset exactly as GET /api/assets/{id} does (Immich's one
AssetResponseDto: favourite, visibility, numeric duration, dimensions), plus the duplicate group it is in."""

import uuid

import pytest

from media_app.models import Asset, AssetType
from search_app.models import AssetSearchInfo

pytestmark = pytest.mark.django_db


def _asset(owner, number, **fields) -> Asset:
    return Asset.objects.create(owner=owner, original_path=f"/photos/{number}.mp4",
                                original_filename=f"clip{number}.mp4", checksum=f"{number:040d}",
                                file_size=1000 + number, **fields)


def test_search_items_are_the_asset_info_plus_the_duplicate_group(user, user_client):
    group = uuid.uuid4()
    favourite = _asset(user, 1, type=AssetType.VIDEO, is_favorite=True, duration=3.5, width=640, height=360,
                       city="Oslo")
    twin = _asset(user, 2, type=AssetType.IMAGE, width=640, height=360, city="Oslo")
    for asset in (favourite, twin):
        AssetSearchInfo.objects.create(asset=asset, duplicate_id=group)

    found = user_client.post("/api/search/metadata", {"city": "Oslo"}, content_type="application/json").json()
    items = {item["id"]: item for item in found["assets"]["items"]}
    assert set(items) == {str(favourite.pk), str(twin.pk)}
    assert found["assets"]["nextPage"] is None and found["assets"]["nextCursor"] is None
    for asset in (favourite, twin):
        info = user_client.get(f"/api/assets/{asset.pk}").json()
        assert items[str(asset.pk)] == {**info, "duplicateId": str(group)}
    assert items[str(favourite.pk)]["isFavorite"] is True and items[str(favourite.pk)]["duration"] == 3.5
    assert items[str(twin.pk)]["isFavorite"] is False and items[str(twin.pk)]["visibility"] == "timeline"

    [duplicates] = user_client.get("/api/duplicates").json()
    assert duplicates["duplicateId"] == str(group)
    assert {a["id"]: a["duplicateId"] for a in duplicates["assets"]} == {str(favourite.pk): str(group),
                                                                         str(twin.pk): str(group)}
    assert duplicates["assets"][0] == items[duplicates["assets"][0]["id"]]
