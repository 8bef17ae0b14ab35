import json
import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop beside live_server
import shutil
from pathlib import Path

import pytest
from django.test import Client

from settings_app import config_file
from settings_app.services import clear_config_cache

TESTDATA = Path(__file__).resolve().parent / "data"  # vendored: photos, faces, videos, with their licences
ADMIN_PASSWORD = "admin-password-123"
USER_PASSWORD = "user-password-123"


DATABASE_FIXTURES = frozenset({"db", "transactional_db", "live_server", "django_db_reset_sequences",
                               "django_db_serialized_rollback"})


def pytest_collection_modifyitems(config, items):
    """Mark the tests that never touch the database `no_database`: the PostgreSQL pass of CI leaves them
    out (`-m 'not no_database'`), as they behave the same whatever the database."""
    for item in items:
        if not item.get_closest_marker("django_db") and not DATABASE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.no_database)


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    """Each test starts from the settings in its own database, never a previous test's cache."""
    clear_config_cache()
    yield
    clear_config_cache()


@pytest.fixture
def use_config_file(settings, tmp_path):
    """Point SETTINGS_CONFIG_FILE at a file with the given content (a dict is written as JSON), loaded as
    at start-up; the config file is out of use again after the test."""

    def use(content, name: str = "config.json") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        settings.SETTINGS_CONFIG_FILE = str(path)
        config_file.load_from_settings()
        return path

    yield use
    settings.SETTINGS_CONFIG_FILE = ""
    config_file.load_from_settings()


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", ADMIN_PASSWORD, name="Admin")


@pytest.fixture
def other_admin(db, django_user_model):
    return django_user_model.objects.create_superuser("second-admin@example.com", ADMIN_PASSWORD, name="Second")


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user("user@example.com", USER_PASSWORD, name="User")


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def user_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def htmx_headers():
    return {"HTTP_HX_REQUEST": "true"}


# --- Browser tests (Playwright driving Debian's chromium) ----------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# .ci/run sets REQUIRE_BROWSER_TESTS=1 so that a missing chromium fails CI instead of skipping.
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER_TESTS") == "1"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM:
        if REQUIRE_BROWSER:
            pytest.fail("chromium is not installed but REQUIRE_BROWSER_TESTS=1 (apt-get install -y chromium)")
        pytest.skip("browser tests need Debian's chromium (apt-get install -y chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-quic", "--disable-sync"],
    }


# --- Other processes (workers, probes) sharing the test database ---------------------------------------


def database_url_of(connection) -> str:
    """A DATABASE_URL that points a child process at the database this test uses."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def child_env(transactional_db):
    """Environment for a `manage.py`/python child process that must see this test's database."""
    from django.conf import settings
    from django.db import connection

    env = {**os.environ, "DATABASE_URL": database_url_of(connection), "DATA_DIR": str(settings.DATA_DIR)}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env
