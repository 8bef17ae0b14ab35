"""Who a `runjobs` instance is, so that a successor on the same machine can tell at start-up that its
predecessor is gone (kill -9, crash, OOM) and run its jobs again at once instead of waiting for the leases
to lapse.

A worker id is "<host>:<pid>:<scope>.<start>": `scope` names the process table the pid belongs to (this
kernel boot and this PID namespace, so two containers sharing a hostname never judge each other's pids),
`start` is when the process started (so a pid reused by another process is not mistaken for the worker).
Where /proc is unavailable both are empty and nothing is judged: the leases alone decide."""

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def process_start(pid: int) -> str:
    """The start time of process `pid` (clock ticks since boot), or "" if no such process runs (a zombie
    that nobody has reaped yet does not run)."""
    stat = _read(PROC / str(pid) / "stat")
    # The command name (field 2) may hold spaces and parentheses: fields are counted after its last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return ""
    return fields[19]


def process_table_scope() -> str:
    boot = _read(PROC / "sys/kernel/random/boot_id").strip()
    try:
        namespace = str(os.stat(PROC / "self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    if not boot or not namespace:
        return ""
    return hashlib.sha1(f"{boot}/{namespace}".encode()).hexdigest()[:10]


@dataclass(frozen=True)
class WorkerIdentity:
    host: str
    pid: int
    scope: str
    start: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.scope}.{self.start}"

    @classmethod
    def parse(cls, worker_id: str) -> "WorkerIdentity | None":
        host, _, rest = worker_id.rpartition(":")
        host, _, pid = host.rpartition(":")
        scope, _, start = rest.partition(".")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), scope, start)


def current() -> WorkerIdentity:
    pid = os.getpid()
    return WorkerIdentity(socket.gethostname(), pid, process_table_scope(), process_start(pid))


def is_gone(worker_id: str, me: WorkerIdentity | None = None) -> bool:
    """Whether the worker `worker_id` certainly no longer runs: it ran in this machine's process table,
    and its pid is free now or belongs to a process started at another time. False when unsure."""
    me = me or current()
    other = WorkerIdentity.parse(worker_id)
    if other is None or not me.scope or (other.host, other.scope) != (me.host, me.scope) or not other.start:
        return False
    if other.pid == me.pid:
        return other.start != me.start
    return process_start(other.pid) != other.start
