"""The asset view (preview, EXIF details, place, map pin, video) and the asset file endpoints, for the
owner only."""

import io

import pytest
from django.test import Client
from PIL import Image

from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, VIDEOS, add_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def nokia(user, media_root):
    return add_asset(user, PHOTOS / "HMD_Nokia_8.3_5G.jpg")


@pytest.fixture
def other_client(django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    client = Client()
    client.force_login(other)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_asset_view_shows_preview_exif_place_and_map_pin(user_client, nokia):
    html = user_client.get(f"/photos/{nokia.id}/").content.decode()
    assert f'src="/api/assets/{nokia.id}/thumbnail?size=preview"' in html
    assert "Sun, Aug 14, 2022 14:12:31 (UTC+03:00)" in html  # the local time where it was taken
    assert "HMD Global Nokia 8.3 5G" in html
    assert "4608 × 1976" in html
    assert nokia.city and nokia.country and f"{nokia.city}, " in html and nokia.country in html
    assert "60.14671, 24.90677" in html
    assert 'id="asset-pin"' in html and "maplibre-gl.js" in html and 'class="mini-map"' in html


def test_no_map_pin_when_the_map_is_disabled_or_no_gps(user_client, user, admin_user, nokia):
    denali = add_asset(user, PHOTOS / "denali.webp")
    assert denali.latitude is None
    html = user_client.get(f"/photos/{denali.id}/").content.decode()
    assert "mini-map" not in html and "maplibre-gl.js" not in html
    assert save_values({"map.enabled": False}, user=admin_user).ok
    assert "mini-map" not in user_client.get(f"/photos/{nokia.id}/").content.decode()


def test_video_plays_from_the_original_until_it_is_transcoded(user_client, user, media_root):
    video = add_asset(user, VIDEOS / "h264_aac_640x360_3s.mp4")
    html = user_client.get(f"/photos/{video.id}/").content.decode()
    assert f'<video controls preload="metadata" src="/api/assets/{video.id}/video/playback"' in html
    response = user_client.get(f"/api/assets/{video.id}/video/playback")
    assert response["Content-Type"] == "video/mp4"
    assert body(response) == open(video.original_path, "rb").read()

    encoded = media_root / "encoded-video" / f"{video.id}.mp4"
    encoded.parent.mkdir(parents=True)
    encoded.write_bytes(b"0123456789" * 10)
    video.encoded_video_path = f"encoded-video/{video.id}.mp4"
    video.save()
    part = user_client.get(f"/api/assets/{video.id}/video/playback", HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and body(part) == b"0123456789"
    assert part["Content-Range"] == "bytes 10-19/100"
    assert body(user_client.get(f"/api/assets/{video.id}/original")) == open(video.original_path, "rb").read()


def test_playback_of_a_photo_or_someone_elses_video_is_refused(user_client, other_client, user, nokia):
    video = add_asset(user, VIDEOS / "h264_aac_640x360_3s.mp4")
    assert user_client.get(f"/api/assets/{nokia.id}/video/playback").status_code == 400
    assert other_client.get(f"/api/assets/{video.id}/video/playback").status_code == 404


def test_thumbnail_and_preview_files_are_served(user_client, nokia):
    thumbnail = user_client.get(f"/api/assets/{nokia.id}/thumbnail?size=thumbnail")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    preview = user_client.get(f"/api/assets/{nokia.id}/thumbnail?size=preview")
    assert preview["Content-Type"] == "image/jpeg"
    assert min(Image.open(io.BytesIO(body(preview))).size) == 1440
    assert user_client.get(f"/api/assets/{nokia.id}/thumbnail?size=huge").status_code == 400


def test_another_user_never_sees_or_fetches_the_asset(other_client, client, nokia):
    assert other_client.get(f"/photos/{nokia.id}/").status_code == 404
    for url in (f"/api/assets/{nokia.id}/thumbnail?size=thumbnail", f"/api/assets/{nokia.id}/thumbnail?size=preview",
                f"/api/assets/{nokia.id}/original"):
        assert other_client.get(url).status_code == 404
        assert client.get(url).status_code == 401  # anonymous


def test_originals_are_served_in_byte_ranges_for_video_seeking(user_client, user, media_root):
    video = add_asset(user, VIDEOS / "h264_aac_640x360_3s.mp4")
    data = open(video.original_path, "rb").read()
    url = f"/api/assets/{video.id}/original"
    part = user_client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and body(part) == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}" and part["Accept-Ranges"] == "bytes"
    tail = user_client.get(url, HTTP_RANGE="bytes=-10")
    assert body(tail) == data[-10:]
    rest = user_client.get(url, HTTP_RANGE=f"bytes={len(data) - 5}-")
    assert body(rest) == data[-5:]
    assert user_client.get(url, HTTP_RANGE=f"bytes={len(data)}-").status_code == 416


def test_offline_library_assets_are_marked_in_the_timeline(user_client, nokia):
    type(nokia).objects.filter(pk=nokia.pk).update(is_offline=True)
    assert ">Offline</span>" in user_client.get("/photos/").content.decode()
