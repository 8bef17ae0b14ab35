"""Cluster-wide leases: a named lock that one process of the whole cluster holds at a time, for work that
must run once however many machines run `manage.py runjobs` (Immich's DatabaseLock; e.g. library
watching). The holder renews its lease every few seconds; the others watch the row and take over once its
renewals have not moved for `lease_seconds` of their own clock, so the clocks of different machines need
not agree. A holder that stops cleanly releases the lock and another takes it at its next look."""

import logging
import time

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import conf
from .db import locked_row, retry_on_busy
from .models import ClusterLock

log = logging.getLogger(__name__)


class LeaseLock:
    def __init__(self, name: str, holder: str, lease_seconds: float = conf.LEASE_SECONDS):
        self.name, self.holder, self.lease_seconds = name, holder, lease_seconds
        self.held = False
        self._seen: tuple[tuple[str, int], float] | None = None  # another holder's (holder, renewals), since

    @retry_on_busy
    def hold(self) -> bool:
        """Renew the lock, or take it when it is free or its holder stopped renewing. Call it well within
        every lease_seconds. Returns whether this process holds the lock now."""
        now = timezone.now()
        if self.held:
            self.held = bool(ClusterLock.objects.filter(name=self.name, holder=self.holder).update(
                renewals=F("renewals") + 1, renewed_at=now))
            if not self.held:
                log.warning("lock %s: taken over by another process (this one stalled); letting go", self.name)
            return self.held
        row = ClusterLock.objects.filter(name=self.name).first()
        if row is not None and not self._available(row):
            return False
        with transaction.atomic():
            row = locked_row(ClusterLock, name=self.name)
            if not self._available(row):  # someone else took it a moment ago
                return False
            previous = row.holder
            row.holder, row.renewals, row.acquired_at, row.renewed_at = self.holder, row.renewals + 1, now, now
            row.save()
        self.held, self._seen = True, None
        log.info("lock %s: held by %s%s", self.name, self.holder,
                 f" (taken over from {previous}, which stopped renewing it)" if previous else "")
        return True

    def _available(self, row: ClusterLock) -> bool:
        if not row.holder or row.holder == self.holder:
            return True
        state, now = (row.holder, row.renewals), time.monotonic()
        if self._seen is None or self._seen[0] != state:
            self._seen = (state, now)  # it moved (or is new to us): the lease starts again
            return False
        return now - self._seen[1] >= self.lease_seconds

    @retry_on_busy
    def release(self) -> None:
        """Hand the lock over at once (a clean stop, or the work was switched off)."""
        if self.held:
            ClusterLock.objects.filter(name=self.name, holder=self.holder).update(holder="")
            log.info("lock %s: released by %s", self.name, self.holder)
        self.held = False


def holder_of(name: str) -> str:
    """Who holds the lock now ("" when nobody does)."""
    return ClusterLock.objects.filter(name=name).values_list("holder", flat=True).first() or ""
