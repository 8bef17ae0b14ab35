"""A django-q2 broker whose dequeue is the gated claim of jobs_app.engine: the pusher of a cluster only
ever receives jobs that fit under their queue's current concurrency, and none from a paused queue.

The job table in the database is the durable queue on every setup (it carries leases, counts, failures
and progress that every machine shares). With REDIS_URL, Redis pub/sub wakes idle claimers the moment a
job is queued or a slot frees on any machine; without it they poll every JOBS_POLL_SECONDS."""

import logging
import time
import uuid

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_q.brokers import Broker
from django_q.signing import SignedPackage

from . import conf, engine, shared
from .models import Job
from .queues import QUEUES_BY_NAME

log = logging.getLogger(__name__)


class JobBroker(Broker):
    def __init__(self, queue_names, list_key: str = "photoserver-jobs"):
        self.queue_names = tuple(queue_names)
        self._listening = False
        self._empty_until: dict[str, float] = {}
        self._turn = 0
        super().__init__(list_key=list_key)

    def __setstate__(self, state):
        super().__setstate__(state)
        self.queue_names, self._listening, self._empty_until, self._turn = tuple(QUEUES_BY_NAME), False, {}, 0

    def queues_in_turn(self) -> tuple[str, ...]:
        """The queues, starting one further each pass: when the machine's processes are fewer than the
        work, no queue always comes last."""
        self._turn = (self._turn + 1) % len(self.queue_names)
        return self.queue_names[self._turn:] + self.queue_names[:self._turn]

    @staticmethod
    def get_connection(list_key: str = None):
        return None  # the database connection is Django's

    def dequeue(self):
        if not self._listening:
            self._listening = True
            shared.start_redis_listener()
        # A queue found empty is looked at again after one poll interval, or at once when Redis says that
        # jobs were queued: a freed slot elsewhere must not make every pass query every queue.
        now = time.monotonic()
        if shared.take_new_work():
            self._empty_until.clear()
        skip = {name for name, until in self._empty_until.items() if until > now}
        empty = set()
        capacity = shared.free_processes()
        if capacity == 0:  # every process of this machine is busy: a finishing job wakes us
            shared.wait_for_wake(conf.POLL_SECONDS)
            return None
        try:
            claims = engine.claim_ready(self.queues_in_turn(), shared.worker_id, skip, empty, capacity)
        except DatabaseError as error:
            log.warning("could not claim jobs: %s", error)
            close_old_connections()
            claims = []
        self._empty_until.update(dict.fromkeys(empty, now + conf.POLL_SECONDS))
        if claims:
            shared.add_in_flight(len(claims))
            return [(claim.job_id, SignedPackage.dumps(self._task(claim))) for claim in claims]
        shared.wait_for_wake(conf.POLL_SECONDS)
        return None

    @staticmethod
    def _task(claim: engine.Claim) -> dict:
        return {
            "id": uuid.uuid4().hex,
            "name": f"{claim.queue}/{claim.name}#{claim.job_id}"[:100],
            "func": "jobs_app.runner.run_job",
            "args": (claim.job_id, claim.token),
            "kwargs": {},
            "timeout": QUEUES_BY_NAME[claim.queue].timeout,
            "started": timezone.now(),
            "save": False,  # the Job row is the record; django-q2 keeps only tasks that crashed its worker
        }

    def enqueue(self, task):
        raise NotImplementedError("Queue jobs with jobs_app.services.enqueue(queue, name, data).")

    def acknowledge(self, task_id):
        pass  # the job's outcome was recorded by the runner, under its claim token

    def fail(self, task_id):
        # The pusher could not unpack the task: give the job back rather than lose it.
        engine.release_worker(shared.worker_id, [task_id])
        shared.add_in_flight(-1)

    def queue_size(self) -> int:
        return Job.objects.filter(queue__in=self.queue_names, status=Job.WAITING).count()

    def lock_size(self) -> int:
        return Job.objects.filter(queue__in=self.queue_names, status=Job.ACTIVE).count()

    def purge_queue(self):
        raise NotImplementedError("Empty a queue with jobs_app.services.empty_queue(name).")

    def delete_queue(self):
        self.purge_queue()

    def ping(self) -> bool:
        connection.ensure_connection()
        return True

    def info(self) -> str:
        if not self._info:
            self._info = f"jobs table on {connection.vendor}" + (" + Redis wake-ups" if shared._client() else "")
        return self._info
