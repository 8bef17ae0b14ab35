"""The timeline: the owner's assets only, grouped by day taken, newest first, with thumbhash placeholders,
infinite scroll pages, and deleting a selection (trash, permanent, Ctrl+Delete)."""

import base64
import io
import re
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from media_app.models import Asset
from media_app.services import timeline
from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, VIDEOS, add_asset, generated_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def photos(user, media_root):
    return {name: add_asset(user, PHOTOS / name) for name in
            ("HMD_Nokia_8.3_5G.jpg", "tanners_ridge.jpg", "mongolels.jpg", "denali.webp")}


def tile_ids(html: str) -> list[str]:
    return re.findall(r'data-asset-id="([0-9a-f-]+)"', html)


def test_home_and_photos_show_the_timeline_newest_day_first(user_client, photos):
    ordered = sorted(photos.values(), key=lambda a: a.local_taken_at, reverse=True)
    for url in ("/", "/photos/"):
        html = user_client.get(url).content.decode()
        assert tile_ids(html) == [str(a.id) for a in ordered]
        assert 'href="/upload/"' in html
    days = re.findall(r'data-day="([\d-]+)"', html)
    assert days == sorted(set(days), reverse=True)
    assert ordered[0].local_taken_at.strftime("%b") in html


def test_days_group_by_local_date(user, media_root):
    nokia = add_asset(user, PHOTOS / "HMD_Nokia_8.3_5G.jpg")
    same_day = add_asset(user, PHOTOS / "tanners_ridge.jpg")
    Asset.objects.filter(pk=same_day.pk).update(local_taken_at=nokia.local_taken_at.replace(hour=1))
    page = timeline.timeline_page(user)
    assert [len(day.assets) for day in page.days] == [2]
    assert page.days[0].day.isoformat() == "2022-08-14"  # the wall-clock day in Helsinki (+03:00)


def test_tiles_carry_aspect_ratio_and_a_thumbhash_placeholder(user_client, photos):
    nokia = photos["HMD_Nokia_8.3_5G.jpg"]
    html = user_client.get("/photos/").content.decode()
    tile = re.search(rf'<a class="tile"[^>]*data-asset-id="{nokia.id}".*?</a>', html, re.S).group(0)
    assert f"width: {round(4608 / 1976 * 200)}px" in tile
    data = re.search(r'class="placeholder" alt="" src="data:image/png;base64,([^"]+)"', tile).group(1)
    placeholder = Image.open(io.BytesIO(base64.b64decode(data)))
    assert placeholder.format == "PNG" and max(placeholder.size) <= 32
    width, height = placeholder.size
    assert width > height  # the thumbhash keeps the landscape shape
    assert f'src="/api/assets/{nokia.id}/thumbnail?size=thumbnail"' in tile


def test_infinite_scroll_loads_the_next_page_with_htmx(user_client, user, photos, htmx_headers, monkeypatch):
    monkeypatch.setattr(timeline, "PAGE_SIZE", 3)
    first = user_client.get("/photos/").content.decode()
    assert len(tile_ids(first)) == 3
    assert 'hx-get="/photos/?page=2"' in first and 'hx-trigger="revealed"' in first
    second = user_client.get("/photos/?page=2", **htmx_headers).content.decode()
    assert "<html" not in second and len(tile_ids(second)) == 1
    assert "hx-trigger" not in second  # the last page
    assert set(tile_ids(first) + tile_ids(second)) == {str(a.id) for a in photos.values()}


def test_a_day_split_across_pages_gets_one_heading(user, media_root):
    for name in ("HMD_Nokia_8.3_5G.jpg", "tanners_ridge.jpg", "mongolels.jpg"):
        add_asset(user, PHOTOS / name)
    Asset.objects.update(local_taken_at=Asset.objects.first().local_taken_at)
    first, second = timeline.timeline_page(user, 1, page_size=2), timeline.timeline_page(user, 2, page_size=2)
    assert not first.days[0].continued and second.days[0].continued


def test_others_trashed_and_pending_deletion_assets_stay_out(user_client, user, photos, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    theirs = add_asset(other, PHOTOS / "thompson-springs.jpg")
    trashed = photos["mongolels.jpg"]
    Asset.objects.filter(pk=trashed.pk).update(deleted_at="2026-01-01T00:00:00Z")
    ids = tile_ids(user_client.get("/photos/").content.decode())
    assert str(theirs.id) not in ids and str(trashed.id) not in ids and len(ids) == 3
    django_user_model.objects.filter(pk=user.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert timeline.timeline_assets(user).count() == 0


def test_anonymous_visitors_are_sent_to_login(client, photos):
    for url in ("/photos/", f"/photos/{photos['denali.webp'].id}/", "/trash/", "/map/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    assert client.post("/photos/delete/", {"ids": [str(photos["denali.webp"].id)]}).status_code == 302
    assert Asset.objects.filter(deleted_at__isnull=True).count() == 4


def test_delete_moves_the_selection_to_the_trash(user_client, photos):
    chosen = [photos["denali.webp"], photos["mongolels.jpg"]]
    response = user_client.post("/photos/delete/", {"ids": [str(a.id) for a in chosen]})
    assert response.json() == {"trashed": 2, "deleted": 0}
    for asset in chosen:
        asset.refresh_from_db()
        assert asset.deleted_at is not None
        assert all(path.exists() for path in generated_files(asset))
        assert Path(asset.original_path).exists()
    assert len(tile_ids(user_client.get("/photos/").content.decode())) == 2


def test_ctrl_delete_needs_confirmation_and_then_removes_files(user_client, photos):
    asset = photos["tanners_ridge.jpg"]
    files = [*generated_files(asset), Path(asset.original_path)]
    refused = user_client.post("/photos/delete/", {"ids": [str(asset.id)], "force": "1"})
    assert refused.status_code == 409 and Asset.objects.filter(pk=asset.pk).exists()
    response = user_client.post("/photos/delete/", {"ids": [str(asset.id)], "force": "1", "confirmed": "1"})
    assert response.json() == {"trashed": 0, "deleted": 1}
    assert not Asset.objects.filter(pk=asset.pk).exists()
    assert files and not any(path.exists() for path in files)


def test_with_the_trash_disabled_delete_is_permanent_after_confirmation(user_client, admin_user, photos):
    assert save_values({"trash.enabled": False}, user=admin_user).ok
    html = user_client.get("/photos/").content.decode()
    assert 'data-trash-enabled="false"' in html and "Delete permanently" in html
    asset = photos["denali.webp"]
    refused = user_client.post("/photos/delete/", {"ids": [str(asset.id)]})
    assert refused.status_code == 409 and "deleted permanently" in refused.json()["message"]
    assert user_client.post("/photos/delete/", {"ids": [str(asset.id)], "confirmed": "1"}).json()["deleted"] == 1
    assert not Asset.objects.filter(pk=asset.pk).exists()


def test_a_user_cannot_delete_someone_elses_assets(photos, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    client = Client()
    client.force_login(other)
    ids = [str(a.id) for a in photos.values()]
    assert client.post("/photos/delete/", {"ids": ids}).json() == {"trashed": 0, "deleted": 0}
    assert client.post("/photos/delete/", {"ids": ids, "force": "1", "confirmed": "1"}).json()["deleted"] == 0
    assert Asset.objects.filter(deleted_at__isnull=True).count() == 4


def test_videos_show_in_the_timeline_with_a_badge(user_client, user, media_root):
    video = add_asset(user, VIDEOS / "h264_aac_640x360_3s.mp4")
    html = user_client.get("/photos/").content.decode()
    assert tile_ids(html) == [str(video.id)] and 'class="badge"' in html


def test_a_timeline_page_costs_the_same_queries_however_many_photos(user_client, user, django_assert_max_num_queries):
    def seed(count, start):
        Asset.objects.bulk_create(Asset(owner=user, type="image", original_path=f"/p/{index}.jpg",
                                        original_filename=f"{index}.jpg", checksum=f"{index:040x}",
                                        local_taken_at=f"2020-01-{1 + index % 28:02d}T12:00:00Z")
                                  for index in range(start, start + count))

    seed(3, 0)
    user_client.get("/photos/")  # the settings are read once per process, not per page
    with django_assert_max_num_queries(8):
        assert len(tile_ids(user_client.get("/photos/").content.decode())) == 3
    seed(300, 3)
    with django_assert_max_num_queries(8):
        assert len(tile_ids(user_client.get("/photos/").content.decode())) == timeline.PAGE_SIZE
    with django_assert_max_num_queries(8):
        assert user_client.get("/photos/?page=2", HTTP_HX_REQUEST="true").status_code == 200
