"""enqueue(replace_waiting=True): a debounce. A waiting job with the same dedupe key is replaced (its delay
starts again); a running one is left alone and nothing new is queued."""

import pytest
from django.utils import timezone

from jobs_app.models import Job
from jobs_app.services import enqueue

pytestmark = pytest.mark.django_db


def test_a_waiting_job_is_replaced_and_its_delay_starts_again():
    first = enqueue("backgroundTask", "TestNoop", {"n": 1}, dedupe_key="k", delay=300, replace_waiting=True)
    second = enqueue("backgroundTask", "TestNoop", {"n": 2}, dedupe_key="k", delay=300, replace_waiting=True)
    assert not Job.objects.filter(pk=first.pk).exists()
    [kept] = Job.objects.filter(dedupe_key="k")
    assert kept.pk == second.pk and kept.data == {"n": 2} and kept.run_at >= first.run_at
    assert 290 < (kept.run_at - timezone.now()).total_seconds() <= 300


def test_without_replace_the_first_pending_job_wins():
    first = enqueue("backgroundTask", "TestNoop", {"n": 1}, dedupe_key="k", delay=300)
    assert enqueue("backgroundTask", "TestNoop", {"n": 2}, dedupe_key="k", delay=300) is None
    assert list(Job.objects.values_list("pk", flat=True)) == [first.pk]


def test_a_running_job_is_not_replaced():
    running = enqueue("backgroundTask", "TestNoop", {}, dedupe_key="k")
    Job.objects.filter(pk=running.pk).update(status=Job.ACTIVE)
    assert enqueue("backgroundTask", "TestNoop", {}, dedupe_key="k", delay=300, replace_waiting=True) is None
    assert Job.objects.get(dedupe_key="k").status == Job.ACTIVE


def test_other_keys_are_untouched():
    other = enqueue("backgroundTask", "TestNoop", {}, dedupe_key="other", delay=300)
    enqueue("backgroundTask", "TestNoop", {}, dedupe_key="k", delay=300, replace_waiting=True)
    assert Job.objects.filter(pk=other.pk).exists() and Job.objects.count() == 2
