"""pytest plugin (loaded with `-p` from pyproject's addopts, before pytest-django imports the settings):
the test run gets its own temporary DATA_DIR, so the test database, media, secret key and static folder
never land in the user's DATA_DIR (`./data` or the one the environment names). Child processes started by
the tests inherit it through os.environ. The folder is removed when the run ends."""

import os
import shutil
import tempfile

import pytest

# Server configuration that would change what the tests see (locked settings, an overridden log level).
IGNORED_SERVER_ENVIRONMENT = ("SETTINGS_CONFIG_FILE", "LOG_LEVEL")
_DATA_DIR = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config):
    data_dir = tempfile.mkdtemp(prefix="photoserver-test-data-")
    early_config.stash[_DATA_DIR] = data_dir
    os.environ["DATA_DIR"] = data_dir
    for name in IGNORED_SERVER_ENVIRONMENT:
        os.environ.pop(name, None)


def pytest_unconfigure(config):
    data_dir = config.stash.get(_DATA_DIR, None)
    if data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)

