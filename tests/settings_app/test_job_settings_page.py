"""The Job Settings page shows the queues Immich's page shows; the others (background tasks, notifications,
search, workflow, editor, integrity checks) are set through the API or the config file only, and saving
the page keeps their values."""

import pytest

from settings_app.services import category_row, get_config, save_values

pytestmark = pytest.mark.django_db

SHOWN = ["thumbnail_generation", "metadata_extraction", "library", "sidecar", "smart_search", "face_detection",
         "video_conversion", "migration", "ocr"]
API_ONLY = ["background_task", "notifications", "search", "workflow", "editor", "integrity_check"]


def test_the_page_shows_only_immichs_queues(admin_client):
    page = admin_client.get("/admin/system-settings/job/").content.decode()
    for queue in SHOWN:
        assert f'name="job_{queue}_concurrency"' in page, queue
    for queue in API_ONLY:
        assert f'name="job_{queue}_concurrency"' not in page, queue


def test_saving_the_page_keeps_the_api_only_values(admin_client, admin_user):
    save_values({"job.editor.concurrency": 7, "job.search.concurrency": 3}, user=admin_user)
    page_values = {f"job_{queue}_concurrency": "4" for queue in SHOWN}
    version = category_row("job").version
    response = admin_client.post("/admin/system-settings/job/", {**page_values, "version": version, "action": "save"})
    assert response.status_code == 200
    config = get_config()
    assert config.job.thumbnailGeneration.concurrency == 4
    assert (config.job.editor.concurrency, config.job.search.concurrency) == (7, 3)


def test_api_only_queues_are_in_the_api(admin_client):
    job = admin_client.get("/api/system-config").json()["job"]
    assert job["integrityCheck"] == {"concurrency": 1} and job["editor"] == {"concurrency": 2}
    assert job["workflow"] == {"concurrency": 5} and job["search"] == {"concurrency": 5}
