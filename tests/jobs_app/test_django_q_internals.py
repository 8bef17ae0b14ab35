"""jobs_app.cluster, .broker and .runner build on django-q2's internals, not only its public API: the
Sentinel's process management, the pool worker's timer protocol, the Broker base class, the signing of
task packages and the timeout exception. pyproject.toml pins django-q2 to the minor version they were
written against; these tests fail when an upgrade changes any of what the cluster relies on."""

import inspect
import math
import pickle
import re
import time
import uuid
from importlib.metadata import version
from multiprocessing import Event, Value
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django_q import cluster as q_cluster
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.exceptions import TimeoutException
from django_q.monitor import monitor
from django_q.pusher import pusher
from django_q.queues import Queue
from django_q.signing import SignedPackage
from django_q.worker import worker

from jobs_app.broker import JobBroker
from jobs_app.cluster import JobSentinel

ROOT = Path(__file__).resolve().parents[2]


def parameters(func) -> list[str]:
    return [f"{name}={param.default!r}" if param.default is not inspect.Parameter.empty else name
            for name, param in inspect.signature(func).parameters.items()]


def test_the_installed_django_q2_is_the_pinned_minor_version():
    pin = re.search(r'"django-q2>=(\d+)\.(\d+),<(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert pin, "pyproject.toml must pin django-q2 to one minor version"
    major, minor = (int(part) for part in version("django-q2").split(".")[:2])
    assert (major, minor) == (int(pin[1]), int(pin[2])) and (int(pin[3]), int(pin[4])) == (major, minor + 1)


def test_the_signatures_the_cluster_calls_are_unchanged():
    assert parameters(q_cluster.Sentinel.__init__) == [
        "self", "stop_event", "start_event", "cluster_id", "broker=None", "timeout=None", "start=True"]
    assert parameters(q_cluster.Sentinel.spawn_process) == ["self", "target", "args"]
    for name in ("spawn_cluster", "spawn_worker", "spawn_monitor", "spawn_pusher", "start", "guard", "stop"):
        assert parameters(getattr(q_cluster.Sentinel, name)) == ["self"], name
    assert parameters(q_cluster.Sentinel.reincarnate) == ["self", "process"]
    assert parameters(worker)[:3] == ["task_queue", "result_queue", "timer"] and len(parameters(worker)) == 4
    assert parameters(pusher) == ["task_queue", "event", "broker=None"]
    assert parameters(monitor) == ["result_queue", "broker=None"]
    assert parameters(Broker.__init__) == ["self", "list_key=None"]
    for name in ("enqueue", "dequeue", "acknowledge", "fail", "queue_size", "lock_size", "purge_queue",
                 "delete_queue", "ping", "info", "set_stat", "__getstate__", "__setstate__"):
        assert callable(getattr(Broker, name)), name
    assert q_cluster.get_mp_context().get_start_method() == "fork"
    assert isinstance(Conf.DAEMONIZE_WORKERS, bool)
    # A handler's own `except Exception` cannot swallow a timeout; jobs_app.runner catches it first.
    assert issubclass(TimeoutException, BaseException) and not issubclass(TimeoutException, Exception)
    assert issubclass(JobSentinel, q_cluster.Sentinel) and issubclass(JobBroker, Broker)


class RecordingSentinel(q_cluster.Sentinel):
    """A Sentinel whose processes are recorded instead of forked."""

    def spawn_process(self, target, *args):
        process = SimpleNamespace(target=target, args=args, pid=len(self.spawned) + 1, name=f"p{len(self.spawned)}",
                                  timer=args[2] if target is worker else None)
        self.spawned.append(process)
        if target is worker:
            self.pool.append(process)
        return process


@pytest.fixture
def sentinel(db):
    recording = RecordingSentinel(Event(), Event(), uuid.uuid4(), broker=JobBroker(["thumbnailGeneration"]),
                                  start=False)
    recording.spawned = []
    return recording


def test_the_sentinel_keeps_the_attributes_and_spawns_what_the_cluster_expects(sentinel):
    for name in ("pool", "pool_size", "task_queue", "result_queue", "event_out", "monitor", "pusher", "broker",
                 "timeout", "reincarnations", "start_event", "stop_event"):
        assert hasattr(sentinel, name), name
    sentinel.pool_size = 3  # JobSentinel sizes the pool before calling spawn_cluster
    sentinel.spawn_cluster()
    targets = [process.target for process in sentinel.spawned]
    assert targets == [worker, worker, worker, monitor, pusher]
    first = sentinel.spawned[0]
    assert first.args[:2] == (sentinel.task_queue, sentinel.result_queue)
    assert first.timer.value == -1  # the timer is the third argument: JobSentinel.spawn_process reads args[2]
    assert sentinel.spawned[3].args == (sentinel.result_queue, sentinel.broker)
    assert sentinel.spawned[4].args == (sentinel.task_queue, sentinel.event_out, sentinel.broker)
    assert (sentinel.monitor, sentinel.pusher) == (sentinel.spawned[3], sentinel.spawned[4])


def test_reincarnate_replaces_a_pool_process_and_the_monitor(sentinel):
    sentinel.pool_size = 2
    sentinel.spawn_cluster()
    dead = sentinel.pool[0]
    sentinel.reincarnate(dead)
    assert dead not in sentinel.pool and len(sentinel.pool) == 2 and sentinel.spawned[-1].target is worker
    old_monitor = sentinel.monitor
    sentinel.reincarnate(old_monitor)
    assert sentinel.monitor is not old_monitor and sentinel.monitor.target is monitor
    assert sentinel.reincarnations == 2


def slow_task(seconds):
    time.sleep(seconds)
    return "slept"


def run_worker(tasks: list[dict], timeout=None) -> tuple[list[dict], float]:
    task_queue, result_queue, timer = Queue(), Queue(), Value("f", -1)
    for task in tasks:
        task_queue.put(task)
    task_queue.put("STOP")
    worker(task_queue, result_queue, timer, timeout)
    return [result_queue.get(timeout=5) for _ in tasks], timer.value


def task(func, *args, timeout=30) -> dict:
    return {"id": uuid.uuid4().hex, "name": "probe", "func": func, "args": args, "kwargs": {}, "timeout": timeout}


def test_the_worker_runs_a_task_and_reports_idle_timed_out_and_recycled_in_its_timer(monkeypatch):
    # jobs_app.cluster.JobSentinel.replace_worker reads these timer values: -1 idle, 0 timed out, -2 recycled.
    (result,), timer = run_worker([task("math.floor", 2.5)])
    assert (result["result"], result["success"], timer) == (math.floor(2.5), True, -1)

    (result,), timer = run_worker([task(f"{__name__}.slow_task", 3, timeout=1)])
    assert not result["success"] and "TimeoutException" in result["result"] and timer == 0

    monkeypatch.setattr(Conf, "RECYCLE", 1)
    (result,), timer = run_worker([task("math.floor", 1.5)])
    assert result["success"] and timer == -2


def test_task_packages_and_the_broker_survive_signing_and_pickling():
    package = {"id": "x", "func": "jobs_app.runner.run_job", "args": (7, "token"), "kwargs": {}, "timeout": 30}
    assert SignedPackage.loads(SignedPackage.dumps(package)) == package
    assert settings.Q_CLUSTER["name"] == Conf.PREFIX  # the signing salt comes from Q_CLUSTER
    broker = pickle.loads(pickle.dumps(JobBroker(["thumbnailGeneration"], list_key="k")))
    assert broker.list_key == "k" and "thumbnailGeneration" in broker.queue_names
