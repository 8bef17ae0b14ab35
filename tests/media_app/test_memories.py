""""On this day" memories: the nightly task makes one per earlier year with photos taken on today's
calendar day, shown at the top of the timeline and served by GET /api/memories in Immich's shape; the
Generate memories switch stops new ones; the nightly database cleanup removes past ones."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from jobs_app import schedules
from jobs_app.handlers import get_handler
from jobs_app.models import Job
from media_app.models import Asset, Memory
from media_app.services import memories
from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, add_asset

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def run(name: str) -> str:
    handler = get_handler(name)
    assert handler is not None and not handler.placeholder, name
    return handler.func(Job(queue="backgroundTask", name=name, data={}))


def taken(asset: Asset, when: datetime) -> Asset:
    Asset.objects.filter(pk=asset.pk).update(local_taken_at=when, taken_at=when)
    return Asset.objects.get(pk=asset.pk)


@pytest.fixture
def on_this_day(user):
    today = timezone.localdate()
    two_years_ago = taken(add_asset(user, PHOTOS / "gps-datetime.jpg"),
                          datetime(today.year - 2, today.month, today.day, 14, 30, tzinfo=UTC))
    five_years_ago = taken(add_asset(user, PHOTOS / "tanners_ridge.jpg"),
                           datetime(today.year - 5, today.month, today.day, 9, 0, tzinfo=UTC))
    other_day = taken(add_asset(user, PHOTOS / "denali.webp"),
                      datetime(today.year - 2, today.month, today.day, tzinfo=UTC) + timedelta(days=1))
    return two_years_ago, five_years_ago, other_day


def test_a_photo_from_this_day_in_an_earlier_year_makes_a_memory(user, user_client, on_this_day):
    two_years_ago, five_years_ago, other_day = on_this_day
    assert run("MemoryGenerate") == "2 on-this-day memory(ies) made"
    assert {memory.year: [asset.id for asset in memory.assets.all()] for memory in Memory.objects.all()} == {
        two_years_ago.local_taken_at.year: [two_years_ago.id], five_years_ago.local_taken_at.year: [five_years_ago.id]}

    page = user_client.get("/photos/").content.decode()
    memories_html = page[page.index('class="memories"'):page.index("data-selection-bar")]
    assert "2 years ago" in memories_html and "5 years ago" in memories_html
    assert f"/photos/{two_years_ago.id}/" in memories_html and str(other_day.id) not in memories_html

    body = user_client.get("/api/memories").json()
    assert [memory["data"] for memory in body] == [{"year": two_years_ago.local_taken_at.year},
                                                   {"year": five_years_ago.local_taken_at.year}]
    first = body[0]
    assert first["type"] == "on_this_day" and first["ownerId"] == str(user.pk) and first["isSaved"] is False
    assert {"id", "memoryAt", "showAt", "hideAt", "createdAt", "updatedAt", "assets"} <= set(first)
    assert "seenAt" not in first  # optional in Immich's DTO, never null
    assert first["assets"] == [user_client.get(f"/api/assets/{two_years_ago.id}").json()]
    assert [asset["id"] for asset in first["assets"]] == [str(two_years_ago.id)]
    assert first["assets"][0]["type"] == "IMAGE"

    assert run("MemoryGenerate") == "2 on-this-day memory(ies) made"  # again the same night: no duplicates
    assert Memory.objects.count() == 2


def test_memories_are_the_owners_only(admin_client, on_this_day):
    run("MemoryGenerate")
    assert admin_client.get("/api/memories").json() == []
    assert 'class="memories"' not in admin_client.get("/photos/").content.decode()


def test_switching_the_task_off_stops_new_memories(admin_user, on_this_day):
    config_on = schedules.get_config()
    assert any("MemoryGenerate" in outcome for outcome in schedules.fire_nightly(config_on))
    Job.objects.all().delete()
    save_values({"nightlyTasks.generateMemories": False}, user=admin_user)
    outcomes = schedules.fire_nightly(schedules.get_config())
    assert not any("MemoryGenerate" in outcome for outcome in outcomes)
    assert not Job.objects.filter(name="MemoryGenerate").exists()


def test_the_nightly_cleanup_removes_past_unsaved_memories(admin_user, user, on_this_day):
    memories.generate(timezone.localdate() - timedelta(days=1))  # yesterday's, nothing taken then: none
    assert not Memory.objects.exists()
    memories.generate()
    saved = Memory.objects.order_by("year").first()
    Memory.objects.filter(pk=saved.pk).update(is_saved=True)
    assert any("MemoryCleanup" in outcome for outcome in schedules.fire_nightly(schedules.get_config()))

    assert run("MemoryCleanup") == "removed 0 past memory(ies)"  # today's are still shown
    Memory.objects.update(hide_at=timezone.now() - timedelta(minutes=1))
    assert run("MemoryCleanup") == "removed 1 past memory(ies)"
    assert list(Memory.objects.values_list("pk", flat=True)) == [saved.pk]
