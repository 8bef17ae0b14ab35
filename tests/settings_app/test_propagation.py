"""A saved change reaches every other process (web workers, job workers) within 2 seconds, without a
restart; the log level applies live in each of them."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from settings_app.listeners import LOG_LEVELS
from settings_app.services import save_values

PROBE = Path(__file__).with_name("probe_process.py")


@pytest.fixture
def second_process(child_env):
    process = subprocess.Popen(
        [sys.executable, str(PROBE), "20"], env=child_env, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    first = json.loads(process.stdout.readline())
    assert first["ready"]
    yield process, first
    process.kill()
    process.wait()


def test_a_saved_value_reaches_another_process_within_two_seconds(second_process, admin_user):
    process, _ = second_process
    saved_at = time.time()
    assert save_values({"image.thumbnail.size": 320}, user=admin_user).ok
    seen = json.loads(process.stdout.readline())
    assert seen["thumbnail_size"] == 320
    assert seen["seen_at"] - saved_at < 2.0


def test_log_level_applies_live_in_another_process(second_process, admin_user):
    process, first = second_process
    assert first["root_log_level"] == LOG_LEVELS["log"]
    assert save_values({"logging.level": "debug"}, user=admin_user).ok
    assert json.loads(process.stdout.readline())["root_log_level"] == LOG_LEVELS["debug"]
    assert save_values({"logging.level": "error"}, user=admin_user).ok
    assert json.loads(process.stdout.readline())["root_log_level"] == LOG_LEVELS["error"]
