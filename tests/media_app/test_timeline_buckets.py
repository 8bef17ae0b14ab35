"""Immich's timeline buckets, one month's bucket and the map markers through the API: which assets each
counts and lists (trash, archive, live-photo motion parts, other owners, assets without a date taken),
and a fixed number of queries however large the library."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from media_app.models import Asset
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add(owner, number: int, **fields) -> Asset:
    return Asset.objects.create(owner=owner, type=fields.pop("type", "image"), original_path=f"/p/{number}.jpg",
                                original_filename=f"{number}.jpg", checksum=f"{number:040x}", **fields)


@pytest.fixture
def api(user):
    client, secret = Client(), ApiKey.issue(user, "timeline")[1]

    def get(path: str, **params):
        response = client.get(path, params, HTTP_X_API_KEY=secret)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        return response.json()

    return get


def test_a_bucket_lists_exactly_the_assets_its_month_counts(api, user):
    taken = add(user, 1, local_taken_at=at("2024-05-03T12:00:00"), file_created_at=at("2023-01-01T00:00:00"))
    unread = add(user, 2, file_created_at=at("2024-05-09T08:00:00"))  # metadata not read yet: the file date
    imported = add(user, 3, created_at=at("2024-04-30T23:00:00"))  # no date at all: when it was imported
    months = api("/api/timeline/buckets")
    assert months == [{"timeBucket": "2024-05-01", "count": 2}, {"timeBucket": "2024-04-01", "count": 1}]
    may = [str(unread.id), str(taken.id)]  # newest first, placed as counted
    assert api("/api/timeline/bucket", timeBucket="2024-05-01")["id"] == may
    assert api("/api/timeline/bucket", timeBucket="2024-05-01", order="asc")["id"] == may[::-1]
    april = api("/api/timeline/bucket", timeBucket="2024-04-01")
    assert april["id"] == [str(imported.id)] and april["fileCreatedAt"] == ["2024-04-30T23:00:00Z"]
    assert api("/api/timeline/bucket", timeBucket="2023-01-01")["id"] == []


def test_trash_archive_motion_parts_and_other_owners(api, user, django_user_model):
    may = at("2024-05-03T12:00:00")
    shown = add(user, 1, local_taken_at=may, latitude=47.37, longitude=8.54, city="Zürich", country="Schweiz")
    archived = add(user, 2, local_taken_at=may, visibility="archive", latitude=1, longitude=2)
    add(user, 3, local_taken_at=may, deleted_at=may, latitude=1, longitude=2)
    motion = add(user, 4, local_taken_at=may, type="video", latitude=1, longitude=2)
    Asset.objects.filter(pk=shown.pk).update(live_photo_video=motion)
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    add(other, 5, local_taken_at=may, latitude=1, longitude=2)

    assert api("/api/timeline/buckets") == [{"timeBucket": "2024-05-01", "count": 2}]
    assert api("/api/timeline/buckets", isTrashed="true") == [{"timeBucket": "2024-05-01", "count": 1}]
    bucket = api("/api/timeline/bucket", timeBucket="2024-05-01", withCoordinates="true")
    assert sorted(bucket["id"]) == sorted([str(shown.id), str(archived.id)])
    assert bucket["ownerId"] == [str(user.pk)] * 2 and "Zürich" in bucket["city"]

    markers = api("/api/map/markers")
    assert markers == [{"id": str(shown.id), "lat": 47.37, "lon": 8.54, "city": "Zürich", "state": None,
                        "country": "Schweiz"}]
    assert {marker["id"] for marker in api("/api/map/markers", isArchived="true")} == {str(shown.id),
                                                                                     str(archived.id)}


@pytest.mark.parametrize(("path", "size"), [("/api/timeline/buckets", lambda answer: answer[0]["count"]),
                                            ("/api/timeline/bucket?timeBucket=2024-05-01",
                                             lambda answer: len(answer["id"])),
                                            ("/api/map/markers", len)])
def test_each_answers_in_a_fixed_number_of_queries(api, user, path, size, django_assert_max_num_queries):
    for number in range(40):
        add(user, number, local_taken_at=at(f"2024-05-{number % 28 + 1:02d}T12:00:00"), latitude=number,
            longitude=2.0, thumbhash=b"\x01\x02")
    api(path)  # the settings are read once, then cached
    with django_assert_max_num_queries(3):  # the API key, the assets, the settings' freshness
        answer = api(path)
    assert size(answer) == 40
