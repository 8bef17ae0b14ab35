"""The worker of `manage.py runjobs`: a django-q2 cluster (Sentinel -> pusher, monitor, pool of worker
processes) serving every queue, with what django-q2 lacks for Immich's live concurrency:

- the pusher's broker (jobs_app.broker) claims only what each queue's current limit allows, so a saved
  concurrency applies within about a second, without a restart;
- the pool is elastic: it grows as soon as more jobs are in flight (a raised limit never waits for a
  restart) and retires idle processes later; it never exceeds --max-processes, and the broker claims
  only what fits;
- a pool process that dies mid-job (kill -9) has its job queued again at once; a whole machine that
  dies loses its leases, and the other machines run its jobs; a worker restarted on the same machine
  runs the jobs of its dead predecessor at once;
- the guard loop renews the leases of the jobs its live pool processes are running (and no others),
  reports its heartbeat and runs the cron scheduler;
- stopping (SIGTERM/SIGINT) claims nothing more, lets running jobs finish for a grace period, then
  hands back whatever is left.

The sentinel runs in the `runjobs` process itself: it keeps no threads, so forking the pool is safe.
"""

import ctypes
import logging
import os
import queue as queue_module
import signal
import time
import uuid
from datetime import timedelta

from django import db
from django.db.models.functions import Now
from django.utils import timezone
from django_q.cluster import Sentinel, get_mp_context
from django_q.conf import Conf
from django_q.queues import Queue
from django_q.worker import worker

from settings_app.services import get_config

from . import conf, engine, identity, schedules, shared
from .broker import JobBroker
from .models import Job, QueueRun, WorkerHeartbeat

log = logging.getLogger(__name__)

GUARD_CYCLE = 0.05  # seconds between looks at the pool: growing it must not wait long
HOUSEKEEPING_SECONDS = 60
PR_SET_PDEATHSIG = 1
REPEATED_STOP_SECONDS = 2


def _die_with_parent() -> None:
    """Linux: a pool process is killed when its sentinel dies (kill -9), instead of lingering as an
    orphan that holds claimed jobs."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _child_main(parent_pid, job_slot, target, *args):
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    shared.use_current_job_slot(job_slot)
    # The sentinel's own handlers (graceful stop) must not be inherited: a pool process ignores Ctrl+C
    # (the sentinel decides when it stops) and dies on SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    target(*args)


class JobSentinel(Sentinel):
    def __init__(self, queue_names, *, run_scheduler: bool = True, grace: float = conf.STOP_GRACE_SECONDS,
                 max_processes: int = conf.MAX_PROCESSES):
        context = get_mp_context()
        self.queue_names = tuple(queue_names)
        self.max_processes = max_processes
        self.run_scheduler = run_scheduler
        self.grace = grace
        self.retiring = 0
        self.excess_since = None
        self.stop_requested = self.hurry = False
        self.stop_requested_at = 0.0
        self.last_heartbeat = time.monotonic()
        super().__init__(context.Event(), context.Event(), uuid.uuid4(), broker=JobBroker(self.queue_names),
                         start=False)
        self.task_queue = Queue()  # unbounded: the pool is sized to the jobs in flight instead
        self.identity = identity.current()
        self.worker_id = str(self.identity)
        shared.install(self.worker_id, context.Event(), context.Value("i", 0), max_processes)
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def request_stop(self, signum, frame):
        # Ctrl+C under `make run` reaches this process twice at once (the terminal's SIGINT and the
        # supervisor's SIGTERM): only a second request seconds later means "do not wait for running jobs".
        if not self.stop_requested:
            self.stop_requested, self.stop_requested_at = True, time.monotonic()
        elif time.monotonic() - self.stop_requested_at > REPEATED_STOP_SECONDS:
            self.hurry = True

    # --- processes ---------------------------------------------------------------------------------

    def spawn_process(self, target, *args):
        db.connections.close_all()  # a forked child must not share this process's database sockets
        context = get_mp_context()
        job_slot = context.Value("q", 0, lock=False) if target == worker else None
        process = context.Process(target=_child_main, args=(os.getpid(), job_slot, target, *args),
                                  name=f"Process-{uuid.uuid4().hex}")
        process.daemon = True
        process.job_slot = job_slot
        if target == worker:
            process.daemon = Conf.DAEMONIZE_WORKERS
            process.timer = args[2]
            self.pool.append(process)
        process.start()
        return process

    def spawn_cluster(self):
        self.pool_size = self.target_pool_size()
        super().spawn_cluster()

    def target_pool_size(self) -> int:
        return max(1, min(self.max_processes, shared.in_flight() + conf.SPARE_WORKERS))

    def running_jobs(self) -> list[tuple[int, int]]:
        """(pid, job id) of each live pool process running a job: the leases worth renewing."""
        return [(process.pid, process.job_slot.value) for process in self.pool
                if process.is_alive() and process.job_slot.value]

    def replace_worker(self, process) -> None:
        timer = process.timer.value
        if not process.is_alive() and process.exitcode == 0 and timer == -1 and self.retiring:
            self.pool.remove(process)  # retired on purpose
            self.retiring -= 1
            return
        if timer not in (-1, -2):  # it died (or timed out) while running a job
            given_back = engine.release_executor(self.worker_id, process.pid, timed_out=timer == 0)
            shared.add_in_flight(-given_back)
            if given_back:
                log.warning("worker process %s died while running a job; %s", process.pid,
                            "it failed (timeout)" if timer == 0 else "it is queued again")
        self.reincarnate(process)

    def adjust_pool(self, elapsed: float) -> None:
        for process in list(self.pool):
            with process.timer.get_lock():
                if not process.is_alive() or process.timer.value == 0:
                    self.replace_worker(process)
                    continue
                if process.timer.value > 0:
                    process.timer.value = max(0.0, process.timer.value - elapsed)
        target = self.target_pool_size()
        size = len(self.pool) - self.retiring
        while size < target:
            self.spawn_worker()
            size += 1
        # Retire idle processes only after a while, so that bursts do not fork and retire back and forth.
        if size > target + conf.SPARE_WORKERS:
            self.excess_since = self.excess_since or time.monotonic()
            if time.monotonic() - self.excess_since >= conf.RETIRE_IDLE_SECONDS:
                for _ in range(size - target):
                    self.task_queue.put("STOP")
                self.retiring += size - target
                self.excess_since = None
        else:
            self.excess_since = None

    # --- guard loop ----------------------------------------------------------------------------------

    def guard(self):
        self.start_event.set()
        log.info("job worker %s serving %d queue(s) with up to %d process(es)%s", self.worker_id,
                 len(self.queue_names), self.max_processes, " with the scheduler" if self.run_scheduler else "")
        self.safely(engine.release_gone_workers, self.identity)
        self.heartbeat()
        last = time.monotonic()
        next_heartbeat = next_tick = last
        next_housekeeping = last + HOUSEKEEPING_SECONDS
        while not self.stop_requested:
            now = time.monotonic()
            self.adjust_pool(now - last)
            last = now
            if not self.monitor.is_alive():
                self.reincarnate(self.monitor)
            if not self.pusher.is_alive():
                self.reincarnate(self.pusher)
            if now >= next_heartbeat:
                self.heartbeat()
                next_heartbeat = now + conf.HEARTBEAT_SECONDS
            if now >= next_tick:  # also how this process notices saved settings (config_update listeners)
                if self.run_scheduler:
                    self.safely(schedules.tick, self.worker_id)
                else:
                    self.safely(get_config)
                next_tick = now + conf.SCHEDULER_TICK_SECONDS
            if now >= next_housekeeping:
                self.safely(housekeeping)
                next_housekeeping = now + HOUSEKEEPING_SECONDS
            time.sleep(GUARD_CYCLE)
        self.stop()

    @staticmethod
    def safely(func, *args):
        try:
            return func(*args)
        except Exception:
            log.exception("%s failed", func.__qualname__)
            db.close_old_connections()

    def heartbeat(self) -> None:
        started = time.monotonic()
        # Late (this process or the database stalled): the other workers could not renew their leases
        # either, so give them one more round before treating lapsed leases as dead workers.
        on_time = started - self.last_heartbeat <= 2 * conf.HEARTBEAT_SECONDS + 1
        self.safely(engine.renew_leases, self.worker_id, self.running_jobs())
        self.safely(self._save_heartbeat)
        if on_time and time.monotonic() - started <= conf.HEARTBEAT_SECONDS:
            self.safely(engine.reclaim_expired)
        self.last_heartbeat = time.monotonic()

    def _save_heartbeat(self) -> None:
        # On the database's clock, as every reader compares it with that clock.
        report = {"hostname": self.identity.host, "pid": self.identity.pid, "queues": list(self.queue_names),
                  "pool_size": len(self.pool) - self.retiring, "in_flight": shared.in_flight(), "last_seen": Now()}
        if not WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(**report):
            WorkerHeartbeat.objects.create(worker_id=self.worker_id, started_at=Now(), **report)

    # --- stopping ------------------------------------------------------------------------------------

    def stop(self):
        log.info("job worker %s stopping: no new jobs; running ones get %ss to finish", self.worker_id, self.grace)
        self.event_out.set()
        self.pusher.join(conf.POLL_SECONDS + 10)
        if self.pusher.is_alive():
            self.pusher.terminate()
        self.hand_back_unstarted()
        for _ in self.pool:
            self.task_queue.put("STOP")
        deadline = time.monotonic() + self.grace
        next_heartbeat = 0.0
        while any(process.is_alive() for process in self.pool) and time.monotonic() < deadline and not self.hurry:
            if time.monotonic() >= next_heartbeat:  # keep the leases of the jobs still finishing
                self.safely(engine.renew_leases, self.worker_id, self.running_jobs())
                next_heartbeat = time.monotonic() + conf.HEARTBEAT_SECONDS
            time.sleep(0.1)
        unfinished = [process for process in self.pool if process.is_alive()]
        for process in unfinished:
            process.terminate()
        for process in unfinished:
            process.join(5)
        given_back = self.safely(engine.release_worker, self.worker_id) or 0
        if given_back:
            log.warning("%d unfinished job(s) handed back to the queue", given_back)
        self.result_queue.put("STOP")
        self.monitor.join(5)
        if self.monitor.is_alive():
            self.monitor.terminate()
        self.safely(lambda: WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete())
        log.info("job worker %s stopped", self.worker_id)

    def hand_back_unstarted(self) -> None:
        """Claimed jobs still in the pool's queue were never started: give them back now."""
        job_ids = []
        while True:
            try:
                task = self.task_queue.get(timeout=0.2)
            except queue_module.Empty:
                break
            if isinstance(task, dict):
                job_ids.append(task["args"][0])
        if job_ids:
            count = self.safely(engine.release_worker, self.worker_id, job_ids) or 0
            shared.add_in_flight(-len(job_ids))
            log.info("%d claimed job(s) not started yet handed back", count)


def housekeeping() -> None:
    """Forget runs after a month, workers gone for a day (completed jobs go with the nightly cleanup)."""
    now = timezone.now()
    WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()
    QueueRun.objects.filter(started_at__lt=now - timedelta(days=30)).exclude(jobs__status__in=Job.PENDING).delete()
