"""Cluster-wide leases (jobs_app.locks): one holder at a time; a holder that stops renewing is taken over
after the lease, measured on the contender's own clock; a released lock is taken at the next look."""

import time

import pytest

from jobs_app.locks import LeaseLock, holder_of

pytestmark = pytest.mark.django_db

LEASE = 0.4


def test_one_holder_at_a_time_and_a_silent_holder_is_taken_over_after_the_lease():
    first, second = LeaseLock("test-lock", "machine-a:1", LEASE), LeaseLock("test-lock", "machine-b:2", LEASE)
    assert first.hold() and not second.hold()
    assert holder_of("test-lock") == "machine-a:1"

    # While the holder renews, the other never gets it, however long it waits.
    deadline = time.monotonic() + 3 * LEASE
    while time.monotonic() < deadline:
        assert first.hold() and not second.hold()
        time.sleep(LEASE / 4)

    # The holder stalls (killed, or its machine is gone): taken over once the lease has passed.
    assert not second.hold()
    time.sleep(LEASE / 2)
    assert not second.hold()  # not yet
    time.sleep(LEASE)
    assert second.hold() and holder_of("test-lock") == "machine-b:2"
    assert not first.hold() and not first.held  # the stalled one finds out and lets go


def test_a_released_lock_is_taken_at_the_next_look():
    first, second = LeaseLock("test-lock", "machine-a:1", 60), LeaseLock("test-lock", "machine-b:2", 60)
    assert first.hold() and not second.hold()
    first.release()
    assert holder_of("test-lock") == ""
    assert second.hold() and not first.hold()
