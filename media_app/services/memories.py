""""On this day" memories (Immich's MemoryGenerate / MemoryCleanup): each night, for every user, one memory
per earlier year with photos or videos taken on today's calendar day, shown through today; memories whose
day is over and that were not saved are removed by the nightly database cleanup."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from ..models import Asset, Memory
from .timeline import asset_response


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """The server timezone's start and end of `day`."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def generate(today: date | None = None) -> int:
    """Create (or complete) today's memories for every user; returns how many memories were made or updated."""
    today = today or timezone.localdate()
    show_at, hide_at = _day_bounds(today)
    made = 0
    for owner in get_user_model().objects.filter(is_active=True, deleted_at__isnull=True):
        # local_taken_at holds the wall-clock time where the photo was taken, stored as UTC: compare in UTC.
        with timezone.override(UTC):
            taken = (Asset.objects.filter(owner=owner, deleted_at__isnull=True, is_offline=False,
                                          local_taken_at__month=today.month, local_taken_at__day=today.day,
                                          local_taken_at__year__lt=today.year)
                     .order_by("local_taken_at").values_list("id", "local_taken_at"))
            by_year = defaultdict(list)
            for asset_id, taken_at in taken:
                by_year[taken_at.year].append(asset_id)
        for year, asset_ids in by_year.items():
            with transaction.atomic():
                memory, _ = Memory.objects.update_or_create(
                    owner=owner, type=Memory.ON_THIS_DAY,
                    memory_at=datetime(year, today.month, today.day, tzinfo=UTC),
                    defaults={"year": year, "show_at": show_at, "hide_at": hide_at})
                memory.assets.set(asset_ids)
            made += 1
    return made


def cleanup(now: datetime | None = None) -> int:
    """Remove memories whose day is over, unless their owner saved them."""
    _, per_model = Memory.objects.filter(hide_at__lt=now or timezone.now(), is_saved=False).delete()
    return per_model.get(Memory._meta.label, 0)  # not the asset links deleted with them


def current_for(owner, now: datetime | None = None):
    """The owner's memories to show now, newest year first, with their assets that still exist."""
    now = now or timezone.now()
    return (Memory.objects.filter(owner=owner, show_at__lte=now, hide_at__gte=now)
            .prefetch_related("assets").order_by("-year"))


def visible_assets(memory: Memory) -> list[Asset]:
    return sorted((asset for asset in memory.assets.all() if asset.deleted_at is None),
                  key=lambda asset: asset.local_taken_at or asset.created_at)


def as_immich(memory: Memory) -> dict:
    """Immich's MemoryResponseDto. Its optional dates are left out when unset (the SDK allows no null)."""
    answer = {
        "id": str(memory.id), "ownerId": str(memory.owner_id), "type": memory.type, "data": {"year": memory.year},
        "memoryAt": memory.memory_at, "isSaved": memory.is_saved, "createdAt": memory.created_at,
        "updatedAt": memory.updated_at, "assets": [asset_response(asset) for asset in visible_assets(memory)],
    }
    optional = {"showAt": memory.show_at, "hideAt": memory.hide_at, "seenAt": memory.seen_at}
    return answer | {name: value for name, value in optional.items() if value is not None}
