"""A fresh clone runs its tests with nothing beside it and without touching the user's data: the test data
is vendored in tests/data, and the run has its own temporary DATA_DIR (test database, media, secret key)."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.conftest import TESTDATA

REPO = Path(settings.BASE_DIR)
INDEXES = {"photos": "metadata.csv", "videos": "videos.csv", "faces": "labels.csv"}


def test_the_test_data_is_vendored_with_its_licences():
    assert TESTDATA.resolve().is_relative_to(REPO)
    for folder, index in INDEXES.items():
        with open(TESTDATA / folder / index, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        assert rows and all((TESTDATA / folder / row["file"]).is_file() for row in rows), folder
        assert all(row["license"] for row in rows), f"{index}: every file names its licence"
    assert "MIT License" in (TESTDATA / "faces" / "LICENSE-MIT-Microsoft.txt").read_text()
    assert "## photos/" in (TESTDATA / "README.md").read_text()


def test_no_test_or_benchmark_reads_outside_the_repository():
    outside = re.compile(r"\.\./" + "shared" + r"|[\"']" + "shared" + r"[\"']\s*/\s*[\"']testdata")
    offenders = [str(path.relative_to(REPO)) for folder in ("tests", "bench") for path in (REPO / folder).rglob("*.py")
                 if outside.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_run_has_its_own_data_dir():
    data_dir = Path(settings.DATA_DIR)
    assert data_dir.name.startswith("photoserver-test-data-")
    assert not data_dir.is_relative_to(REPO)  # not ./data, nor anywhere in the checkout
    assert os.environ["DATA_DIR"] == str(data_dir)  # what child processes inherit
    assert Path(settings.MEDIA_ROOT).is_relative_to(data_dir)
    assert settings.SETTINGS_CONFIG_FILE == "" and settings.LOG_LEVEL_OVERRIDE == ""  # the server's, not the tests'
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        assert Path(database["TEST"]["NAME"]).parent == data_dir
    print(f"test-run DATA_DIR={data_dir}")


def test_a_data_dir_from_the_environment_is_left_untouched(tmp_path):
    users_data = tmp_path / "my-photos-data"
    env = {**os.environ, "DATA_DIR": str(users_data), "SETTINGS_CONFIG_FILE": str(tmp_path / "missing.json")}
    for name in ("DATABASE_URL", "REDIS_URL"):  # the inner run must not share (and drop) this run's database
        env.pop(name, None)
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s",
         "tests/test_fresh_clone.py::test_the_run_has_its_own_data_dir"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert inner.returncode == 0, inner.stdout + inner.stderr
    used = Path(re.search(r"test-run DATA_DIR=(\S+)", inner.stdout).group(1))
    assert not used.is_relative_to(users_data)
    assert not users_data.exists()  # not even created
    assert not used.exists()  # removed when the run ended
