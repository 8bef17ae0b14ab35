"""The supervisor behind `make run` (manage.py serve): the web server (gunicorn), the job workers
(`manage.py runjobs`: workers, scheduler, library watching) and the machine-learning service
(`manage.py runml`) side by side.

- The web server is the server: when it exits, everything stops.
- Crashed helpers (job workers, ML service: kill -9, a non-zero exit) are restarted with exponential
  back-off while the web server keeps answering; after RestartPolicy.limit crashes within its window
  they are given up on, with a clear message in the log and on the jobs page (jobs_app.supervision).
- Every child runs in its own session, so Ctrl+C in the terminal reaches this process only, and each
  child gets exactly one SIGTERM from it (a second Ctrl+C asks for a quick stop). A child also gets
  SIGTERM when this process dies without stopping it (kill -9): no orphan keeps the port.
"""

import ctypes
import http.client
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from jobs_app import supervision

log = logging.getLogger("serve")

PR_SET_PDEATHSIG = 1
LOOP_SECONDS = 0.2
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: nothing may be loaded after fork
except (OSError, AttributeError):
    _prctl = None


def _terminate_with_parent() -> None:
    """preexec_fn of every child (Linux): SIGTERM when the supervisor dies."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"exit code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"


@dataclass
class RestartPolicy:
    """Exponential back-off (first_delay, doubled per crash, at most max_delay) and when to give up:
    `limit` crashes within `window` seconds."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    limit: int = 5
    window: float = 60.0
    crashes: list[float] = field(default_factory=list)

    def delay_after_crash(self, now: float) -> float | None:
        """Record a crash at `now`: seconds to wait before the restart, or None to give up."""
        self.crashes = [at for at in self.crashes if now - at < self.window] + [now]
        if len(self.crashes) >= self.limit:
            return None
        return min(self.max_delay, self.first_delay * 2 ** (len(self.crashes) - 1))


@dataclass
class Child:
    name: str  # "web server", "job workers", "machine-learning service"
    command: list[str]
    cwd: str
    pass_fds: tuple[int, ...] = ()
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    process: subprocess.Popen | None = None
    restart_at: float | None = None  # monotonic time of a pending restart
    gave_up: bool = False

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=self.cwd, pass_fds=self.pass_fds, start_new_session=True,
                                        preexec_fn=_terminate_with_parent)
        self.restart_at = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, web: Child, *helpers: Child, stop_wait: float):
        self.web = web
        self.helpers = [child for child in helpers if child]  # restarted after a crash
        self.children = [web, *self.helpers]
        self.stop_wait = stop_wait  # longer than any child's own grace period: no SIGKILL in a clean stop
        self.stopping = False
        self.signals = 0
        self.exit_code = 0

    def request_stop(self, signum=None, frame=None) -> None:
        """SIGINT/SIGTERM handler: the first one stops cleanly, a second one asks for a quick stop."""
        self.signals += 1
        self.stopping = True
        if self.signals == 2:
            for child in self.children:
                if child.alive():
                    child.process.send_signal(signal.SIGINT)  # gunicorn: quick shutdown; runjobs: do not wait

    def start(self) -> None:
        supervision.clear()
        for child in self.children:
            child.start()

    def wait_until_serving(self, host: str, port: int) -> bool:
        """True once the web server answers HTTP (any status); False when it exited or a stop was requested."""
        host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
        while not self.stopping:
            if not self.web.alive():
                return False
            try:
                connection = http.client.HTTPConnection(host, port, timeout=2)
                connection.request("GET", "/api/server/ping")
                connection.getresponse().read()
                connection.close()
                return True
            except OSError:
                time.sleep(LOOP_SECONDS)
        return False

    def run(self) -> int:
        """Supervise until a stop is requested or the web server exits; then stop every child."""
        while not self.stopping:
            self.check_children(time.monotonic())
            time.sleep(LOOP_SECONDS)
        self.stop()
        return self.exit_code

    def check_children(self, now: float) -> None:
        if self.web.process.poll() is not None:
            log.error("the web server exited with %s; stopping everything.", describe_exit(self.web.process.returncode))
            self.exit_code = 1
            self.stopping = True
            return
        for child in self.helpers:
            self.check_helper(child, now)

    def check_helper(self, child: Child, now: float) -> None:
        if child.gave_up:
            return
        if child.process is None:
            if now >= child.restart_at:
                child.start()
                log.warning("the %s was restarted (pid %s).", child.name, child.process.pid)
            return
        code = child.process.poll()
        if code is None:
            return
        child.process = None
        if code == 0:  # runjobs and runml stop with 0 only when told to (e.g. a SIGTERM sent to them directly)
            child.gave_up = True
            log.warning("the %s stopped (exit code 0) without being asked by this server; not restarting it. "
                        "The web server keeps running.", child.name)
            return
        delay = child.policy.delay_after_crash(now)
        if delay is None:
            child.gave_up = True
            crashes = len(child.policy.crashes)
            log.error("giving up on the %s: %d crashes within %d s, last with %s; not restarting it; the web "
                      "server is still running. Fix the cause (see the messages above), then restart.",
                      child.name, crashes, child.policy.window, describe_exit(code))
            supervision.record_gave_up(child.name, describe_exit(code), crashes, child.policy.window)
            return
        log.warning("the %s exited with code %s; restarting in %g s.", child.name, code, delay)
        child.restart_at = now + delay
        supervision.record_restart(child.name, describe_exit(code))

    def stop(self) -> None:
        running = [child for child in self.children if child.alive()]
        for child in running:
            child.process.send_signal(signal.SIGTERM)  # once: a second signal means "hurry" to both
        deadline = time.monotonic() + self.stop_wait
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("the %s did not stop within %g s; killed.", child.name, self.stop_wait)
                try:  # the child and whatever it started (its own session)
                    os.killpg(child.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.process.wait()
        supervision.clear()
