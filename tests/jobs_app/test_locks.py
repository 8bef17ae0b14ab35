"""Cluster-wide leases (jobs_app.locks): one holder at a time; a holder that stops renewing is taken over
after the lease, measured on the contender's own clock; a released lock is taken at the next look."""

import pytest

from jobs_app import locks
from jobs_app.locks import LeaseLock, holder_of

pytestmark = pytest.mark.django_db

LEASE = 30.0


class ContenderClock:
    """The contenders' monotonic clock, moved by the test: the lease is timed on it, so a loaded CI machine
    cannot stretch a pause past the lease (the flake this replaced: real 0.4 s leases under xdist)."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = ContenderClock()
    monkeypatch.setattr(locks, "time", clock)
    return clock


def test_one_holder_at_a_time_and_a_silent_holder_is_taken_over_after_the_lease(clock):
    first, second = LeaseLock("test-lock", "machine-a:1", LEASE), LeaseLock("test-lock", "machine-b:2", LEASE)
    assert first.hold() and not second.hold()
    assert holder_of("test-lock") == "machine-a:1"

    # While the holder renews, the other never gets it, however long it waits in all.
    for _ in range(12):
        assert first.hold() and not second.hold()
        clock.advance(LEASE / 4)

    # The holder stalls (killed, or its machine is gone): taken over once the lease has passed.
    assert first.hold() and not second.hold()  # the last renewal the other sees
    clock.advance(LEASE / 2)
    assert not second.hold()  # not yet
    clock.advance(LEASE / 2 - 0.01)
    assert not second.hold()  # still not: the lease is counted from the last renewal seen
    clock.advance(0.01)
    assert second.hold() and holder_of("test-lock") == "machine-b:2"
    assert not first.hold() and not first.held  # the stalled one finds out and lets go


def test_a_released_lock_is_taken_at_the_next_look():
    first, second = LeaseLock("test-lock", "machine-a:1", 60), LeaseLock("test-lock", "machine-b:2", 60)
    assert first.hold() and not second.hold()
    first.release()
    assert holder_of("test-lock") == ""
    assert second.hold() and not first.hold()
