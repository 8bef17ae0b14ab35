"""Faults of the machine, really provoked on the embedded SQLite: the database held locked by another
process past the busy timeout answers 503 with Retry-After, a full database answers 507, in JSON on the
API and as a readable message on the dashboard; nothing is saved either way."""

import json
import sqlite3
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from media_app.models import Asset
from settings_app.models import SettingChange
from settings_app.services import category_row, get_config
from tests.media_app.conftest import PHOTOS
from tests.settings_app.test_dashboard import form_data
from users_app.models import ApiKey

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]

BUSY_TIMEOUT_MS = 200
BIG_CSS = "body { color: red; }\n" + "/* padding */\n" * 4000  # ~56 kB (under the 64 KiB cap): needs new pages


@pytest.fixture
def database_locked_elsewhere():
    """Another connection (as another process would) holds the write lock; this process waits only
    BUSY_TIMEOUT_MS for it instead of the configured 30 s."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.rollback()
    other.close()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 30000")


@pytest.fixture
def database_full():
    """The database may not grow by a single page: SQLite answers SQLITE_FULL ("database or disk is full"),
    exactly as when the disk itself is full."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        # Pages freed by earlier tests would take the write: fill them first (the table is dropped after).
        cursor.execute("PRAGMA freelist_count")
        free_pages = cursor.fetchone()[0]
        if free_pages:
            cursor.execute("PRAGMA page_size")
            page_size = cursor.fetchone()[0]
            cursor.execute("CREATE TABLE fault_test_filler (data BLOB)")
            cursor.execute("INSERT INTO fault_test_filler VALUES (zeroblob(%s))", [free_pages * page_size])
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA max_page_count = 4294967294")
        cursor.execute("DROP TABLE IF EXISTS fault_test_filler")


@pytest.fixture
def api_key(admin_user):
    return {"HTTP_X_API_KEY": ApiKey.issue(admin_user, "script")[1]}


def put_config(body: dict, headers: dict):
    return Client().put("/api/system-config", json.dumps(body), content_type="application/json", **headers)


def test_api_answers_503_with_retry_after_while_the_database_stays_locked(api_key, database_locked_elsewhere):
    response = put_config({"trash": {"days": 9}}, api_key)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["statusCode"] == 503 and body["error"] == "Service Unavailable"
    assert "The database is busy; try again in a few seconds" in body["message"]

    database_locked_elsewhere.rollback()  # the other process is done: the retry goes through
    assert put_config({"trash": {"days": 9}}, api_key).status_code == 200
    assert get_config().trash.days == 9


def test_api_answers_507_when_the_disk_is_full_and_saves_nothing(api_key, database_full):
    response = put_config({"theme": {"customCss": BIG_CSS}}, api_key)

    assert response.status_code == 507
    body = response.json()
    assert body["statusCode"] == 507 and body["error"] == "Insufficient Storage"
    assert body["message"].startswith("The disk is full: nothing was saved.")
    assert get_config().theme.customCss == ""
    assert not SettingChange.objects.exists()


def test_dashboard_shows_the_busy_database_in_the_alert_region_and_keeps_the_form(
        admin_client, htmx_headers, database_locked_elsewhere):
    data = form_data("trash", {"trash.days": 9})
    response = admin_client.post("/admin/system-settings/trash/", data, **htmx_headers)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    # htmx puts the fragment in the page's alert region instead of the category card (base.html config).
    assert response["HX-Retarget"] == "#page-fault" and response["HX-Reswap"] == "innerHTML"
    content = response.content.decode()
    assert 'role="alert"' in content and "The database is busy; try again in a few seconds" in content
    assert "<html" not in content and "Server Error" not in content

    # Without htmx: a whole page saying the same.
    response = admin_client.post("/admin/system-settings/trash/", data)
    assert response.status_code == 503 and "<html" in response.content.decode()
    assert "The database is busy" in response.content.decode()
    database_locked_elsewhere.rollback()
    assert get_config().trash.days == 30


def test_dashboard_shows_a_full_disk(admin_client, htmx_headers, database_full):
    version = category_row("theme").version
    response = admin_client.post("/admin/system-settings/theme/", form_data("theme", {"theme.customCss": BIG_CSS}),
                                 **htmx_headers)
    assert response.status_code == 507
    assert "The disk is full: nothing was saved." in response.content.decode()
    assert get_config().theme.customCss == "" and category_row("theme").version == version


# --- A really full disk: a tiny tmpfs as the media folder (needs the right to mount, as root in CI) ---------

@pytest.fixture
def full_media_disk(settings, tmp_path):
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the full database tests above "
                    "cover the same 507 answer")
    settings.MEDIA_ROOT = mount_point
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_an_upload_onto_a_full_disk_is_507_and_leaves_no_partial_file(user, full_media_disk):
    photo = PHOTOS / "mongolels.jpg"
    assert photo.stat().st_size > 64 * 1024
    _, secret = ApiKey.issue(user, "phone")
    response = Client().post("/api/assets", {"assetData": SimpleUploadedFile(photo.name, photo.read_bytes())},
                             HTTP_X_API_KEY=secret)
    assert response.status_code == 507
    assert response.json()["message"].startswith("The disk is full: nothing was saved.")
    assert not [path for path in full_media_disk.rglob("*") if path.is_file()]
    assert not Asset.objects.exists()

    # The upload page's script asks for JSON and shows the message.
    page = Client()
    page.force_login(user)
    response = page.post("/upload/files/", {"files": [SimpleUploadedFile(photo.name, photo.read_bytes())]},
                         HTTP_ACCEPT="application/json")
    assert response.status_code == 507 and "The disk is full" in response.json()["message"]
