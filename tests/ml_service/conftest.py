import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


@dataclass
class RunningService:
    url: str
    process: subprocess.Popen
    log_path: Path
    model_cache: Path

    def log(self) -> str:
        return self.log_path.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(folder: Path, command: list[str], **env) -> RunningService:
    """The real ML service in its own process, answering /ping (or the test fails with its log)."""
    port = free_port()
    model_cache = folder / "ml-models"
    log_path = folder / "ml.log"
    # Downloads of missing models go to a port nobody listens on: the machine without internet, whatever the host.
    environment = {**os.environ, "ML_MODEL_CACHE": str(model_cache), "ML_THREADS": "1",
                   "ML_MODEL_DOWNLOAD_URL": f"http://127.0.0.1:{free_port()}", **env}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, *command, "--port", str(port)], cwd=PROJECT_DIR, env=environment, stdout=log, stderr=log
        )
    service = RunningService(f"http://127.0.0.1:{port}", process, log_path, model_cache)
    try:
        wait_for_ping(service)
    except BaseException:  # never leave the process behind, whatever stopped the wait
        stop_service(service)
        raise
    return service


def wait_for_ping(service: RunningService) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(f"the ML service exited with {service.process.returncode}:\n{service.log()}")
        try:
            if requests.get(f"{service.url}/ping", timeout=1).text == "pong":
                return
        except requests.RequestException:  # not listening yet, or the worker still booting
            pass
        time.sleep(0.1)
    pytest.fail(f"the ML service did not answer /ping within 60 s:\n{service.log()}")


def stop_service(service: RunningService) -> None:
    service.process.terminate()
    try:
        service.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait()


@pytest.fixture(scope="session")
def ml_service(tmp_path_factory):
    """One service process for the session, so the models load once (`python -m ml_service`: no Django)."""
    service = start_service(tmp_path_factory.mktemp("ml"), ["-m", "ml_service"])
    yield service
    stop_service(service)
