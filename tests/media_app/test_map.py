"""The map page: markers for the user's geotagged assets, the light/dark style URLs from the Map
settings, and a plain message when the map is disabled."""

import json
import re

import pytest
from django.test import Client

from media_app.models import Asset
from media_app.views import script_json
from settings_app.services import get_config, save_values
from tests.media_app.photo_assets import PHOTOS, add_asset

pytestmark = pytest.mark.django_db


def markers_of(html: str) -> list[dict]:
    data = re.search(r'<script id="map-markers" type="application/json">(.*?)</script>', html, re.S).group(1)
    return json.loads(data)


@pytest.fixture
def geotagged(user, media_root):
    nokia = add_asset(user, PHOTOS / "HMD_Nokia_8.3_5G.jpg")
    add_asset(user, PHOTOS / "denali.webp")  # no GPS
    return nokia


def test_markers_are_the_users_geotagged_assets(user_client, geotagged, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    add_asset(other, PHOTOS / "gps-datetime.jpg")
    markers = markers_of(user_client.get("/map/").content.decode())
    assert markers == [[str(geotagged.id), pytest.approx(60.1467055), pytest.approx(24.9067722)]]


def test_the_map_reads_its_markers_in_a_fixed_number_of_queries(user_client, geotagged, user,
                                                                 django_assert_max_num_queries):
    for _ in range(30):
        Asset.objects.create(owner=user, type="image", original_path="/x.jpg", original_filename="x.jpg",
                             checksum=f"{_:040x}", latitude=1.0 + _, longitude=2.0)
    with django_assert_max_num_queries(8):
        markers = markers_of(user_client.get("/map/").content.decode())
    assert len(markers) == 31


def test_trashed_assets_leave_the_map(user_client, geotagged):
    Asset.objects.filter(pk=geotagged.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert markers_of(user_client.get("/map/").content.decode()) == []


def test_style_urls_come_from_the_light_and_dark_settings(user_client, admin_user, geotagged):
    html = user_client.get("/map/").content.decode()
    map_config = get_config().map
    assert f'data-light-style="{map_config.lightStyle}"' in html and f'data-dark-style="{map_config.darkStyle}"' in html
    assert save_values({"map.lightStyle": "https://tiles.example.org/light.json",
                        "map.darkStyle": "https://tiles.example.org/dark.json"}, user=admin_user).ok
    html = user_client.get("/map/").content.decode()
    assert 'data-light-style="https://tiles.example.org/light.json"' in html
    assert 'data-dark-style="https://tiles.example.org/dark.json"' in html
    assert "/static/vendor/maplibre-gl-4.7.1/maplibre-gl.js" in html and "unpkg" not in html


def test_disabled_map_says_so(user_client, admin_user, geotagged):
    assert save_values({"map.enabled": False}, user=admin_user).ok
    html = user_client.get("/map/").content.decode()
    assert "The map is disabled by the administrator." in html
    assert "map-markers" not in html and "maplibre-gl.js" not in html


def test_anonymous_is_sent_to_login(geotagged):
    response = Client().get("/map/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_inlined_markers_cannot_close_their_script_element():
    text = script_json([["</script><script>alert(1)</script>", 1.0, 2.0], "a & b"])
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == [["</script><script>alert(1)</script>", 1.0, 2.0], "a & b"]
