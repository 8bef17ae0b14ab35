"""`manage.py serve` (`make run`) as a user runs it, with real processes: crashed job workers are restarted
while the web server keeps answering, repeated crashes are given up on with a clear message, Ctrl+C
stops everything once and cleanly, a busy port fails before anything starts, and a dead web server stops
the whole server."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.utils.html import strip_tags

from config.supervisor import Child, RestartPolicy, Supervisor
from jobs_app import supervision
from jobs_app.models import JobsMetadata, WorkerHeartbeat

from .conftest import FAST_WORKER_ENV, ROOT, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_of(pid: int) -> dict[int, str]:
    """{pid: command line} of the processes whose parent is `pid` (from /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry)] = command
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def runjobs_child(serve_pid: int) -> int | None:
    return next((pid for pid, command in children_of(serve_pid).items() if "runjobs" in command), None)


def ping(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/server/ping", timeout=5) as response:
        return response.status


def page_text(client) -> str:
    """The jobs page's text, without tags, whitespace collapsed."""
    return " ".join(strip_tags(client.get("/admin/jobs/").content.decode()).split())


class Serve:
    def __init__(self, process: subprocess.Popen, output: Path, port: int):
        self.process, self.output_path, self.port = process, output, port

    def output(self) -> str:
        return self.output_path.read_text()


@pytest.fixture
def start_serve(child_env, tmp_path):
    """`manage.py serve` in its own session, as in a terminal; everything it started is gone afterwards."""
    started = []

    def start(port: int, ml_port: int | None = None) -> Serve:
        output = tmp_path / f"serve-{len(started)}.log"
        env = {**child_env, **FAST_WORKER_ENV, "DATA_DIR": str(tmp_path / "data")}
        ml = ["--ml-port", str(ml_port)] if ml_port else ["--no-ml"]
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--web-workers", "1", *ml], cwd=ROOT, env=env,
            stdout=output.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        started.append(process)
        return Serve(process, output, port)

    yield start
    for process in started:
        descendants = [pid for child in children_of(process.pid) for pid in (child, *children_of(child))]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in descendants:  # the test database is flushed next: nothing may still write to it
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def ml_ping(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def wait_serving(serve: Serve) -> None:
    wait_for(lambda: "Serving on" in serve.output() or serve.process.poll() is not None, timeout=90,
             message="the server to start")
    assert serve.process.poll() is None, serve.output()
    assert ping(serve.port) == 200


def test_a_killed_job_worker_is_restarted_while_the_web_keeps_answering_and_ctrl_c_stops_all(
        start_serve, admin_client):
    ml_port = free_port()
    serve = start_serve(free_port(), ml_port=ml_port)
    wait_serving(serve)
    assert wait_for(lambda: ml_ping(ml_port), timeout=60, message="the machine-learning service") == "pong"
    first = wait_for(lambda: runjobs_child(serve.process.pid), message="the job workers")
    wait_for(lambda: WorkerHeartbeat.objects.filter(pid=first).exists(), timeout=60, message="their heartbeat")

    os.kill(first, signal.SIGKILL)
    answers = []
    deadline = time.monotonic() + 1.5  # the restart waits 1 s: the web server answers meanwhile
    while time.monotonic() < deadline:
        answers.append(ping(serve.port))
        time.sleep(0.1)
    assert set(answers) == {200}
    second = wait_for(lambda: (runjobs_child(serve.process.pid) or first) != first and runjobs_child(serve.process.pid),
                      timeout=30, message="new job workers")
    wait_for(lambda: WorkerHeartbeat.objects.filter(pid=second).exists(), timeout=60, message="the new heartbeat")
    assert "the job workers exited with code -9; restarting in 1 s" in serve.output()

    page = page_text(admin_client)
    assert "The job workers on" in page and "crashed and was restarted 1 time," in page
    assert "exit code -9 (killed by SIGKILL)" in page

    # Ctrl+C: the terminal signals the foreground process group, with a browser's kept-alive connection open.
    descendants = [pid for child in children_of(serve.process.pid) for pid in (child, *children_of(child))]
    kept_alive = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=5)
    kept_alive.request("GET", "/api/server/ping")
    assert kept_alive.getresponse().read()
    pressed = time.monotonic()
    os.killpg(serve.process.pid, signal.SIGINT)
    assert serve.process.wait(25) == 0, serve.output()
    assert time.monotonic() - pressed < 15
    output = serve.output()
    assert "SIGKILL" not in output.split("Handling signal", 1)[-1]
    assert "Perhaps out of memory" not in output and "Traceback" not in output
    # Each gunicorn (web server, ML service) got one SIGTERM from serve and not the terminal's SIGINT too.
    assert output.count("Handling signal: term") == 2 and "Handling signal: int" not in output
    assert output.rstrip().endswith("Stopped.")
    assert not [pid for pid in descendants if is_running(pid)]
    assert not JobsMetadata.objects.filter(key__startswith=supervision.KEY_PREFIX).exists()
    kept_alive.close()


def test_a_port_in_use_fails_at_once_with_a_clear_message(start_serve):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        serve = start_serve(port)
        assert serve.process.wait(30) != 0
    output = serve.output()
    assert f"Port {port} on 127.0.0.1 is already in use" in output
    assert "--port" in output and "Serving on" not in output


def test_when_the_web_server_dies_the_server_stops(start_serve):
    serve = start_serve(free_port())
    wait_serving(serve)
    web = next(pid for pid, command in children_of(serve.process.pid).items() if "gunicorn" in command)
    jobs = wait_for(lambda: runjobs_child(serve.process.pid), message="the job workers")

    os.kill(web, signal.SIGKILL)
    assert serve.process.wait(30) == 1
    assert "the web server exited with exit code -9 (killed by SIGKILL); stopping everything." in serve.output()
    assert not is_running(jobs)


def test_job_workers_that_keep_crashing_are_given_up_on_while_the_web_keeps_serving(tmp_path, caplog):
    port = free_port()
    web = Child("web server", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                cwd=str(tmp_path))
    jobs = Child("job workers", [sys.executable, "-c", "import sys; sys.exit(3)"], cwd=str(tmp_path),
                 policy=RestartPolicy(first_delay=0.1, limit=3, window=60))
    supervisor = Supervisor(web, jobs, stop_wait=10)
    supervisor.start()
    assert supervisor.wait_until_serving("127.0.0.1", port)
    running = threading.Thread(target=supervisor.run)
    running.start()
    try:
        wait_for(lambda: jobs.gave_up, timeout=20, message="the supervisor to give up")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200  # the web server still serves
        assert web.alive() and jobs.process is None
    finally:
        supervisor.request_stop()
        running.join(20)
    assert not running.is_alive() and web.process.returncode is not None
    messages = [record.getMessage() for record in caplog.records if record.name == "serve"]
    assert "the job workers exited with code 3; restarting in 0.1 s." in messages
    assert "the job workers exited with code 3; restarting in 0.2 s." in messages
    assert any(message.startswith("giving up on the job workers: 3 crashes within 60 s, last with exit code 3; "
                                  "not restarting it; the web server is still running.") for message in messages)


def test_the_jobs_page_says_when_job_workers_were_given_up_on(admin_client):
    supervision.record_restart("job workers", "exit code 1", hostname="nas")
    supervision.record_gave_up("job workers", "exit code 1", 5, 60, hostname="nas")
    supervision.record_restart("machine-learning service", "exit code -9 (killed by SIGKILL)", hostname="nas")
    page = page_text(admin_client)
    assert ("Gave up on the job workers on nas: 5 crashes within 60 s, the last with exit code 1; it is not "
            "restarted any more. The web server is still running.") in page
    assert ("The machine-learning service on nas crashed and was restarted 1 time, last at") in page
    supervision.clear("nas")
    assert "Gave up" not in page_text(admin_client) and "machine-learning" not in page_text(admin_client)


def test_the_back_off_doubles_and_gives_up_after_the_limit_within_the_window():
    policy = RestartPolicy(first_delay=1, max_delay=30, limit=5, window=60)
    assert [policy.delay_after_crash(at) for at in (0, 2, 5, 10)] == [1, 2, 4, 8]
    assert policy.delay_after_crash(59) is None
    spaced = RestartPolicy(first_delay=1, max_delay=3, limit=5, window=60)
    assert [spaced.delay_after_crash(at) for at in (0, 10, 20, 100)] == [1, 2, 3, 1]  # older crashes forgotten
