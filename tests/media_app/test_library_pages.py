"""The External libraries admin pages: list with the last scan's figures and errors, create/edit through
save_library with path errors beside the field, Scan now queuing the library's job, delete after a
confirmation that leaves every file on disk."""

import shutil

import pytest

from jobs_app.locks import LeaseLock
from jobs_app.models import Job
from media_app.models import Asset, Library
from media_app.services import libraries, thumbnails
from media_app.services.watcher import WATCH_LOCK
from settings_app.services import save_values

from .conftest import PHOTOS


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "pictures"
    path.mkdir()
    shutil.copy(PHOTOS / "mongolels.jpg", path / "a.jpg")
    return path


@pytest.fixture
def library(user, folder, media_root):
    return libraries.save_library(owner=user, name="Family", import_paths=[str(folder)])


def test_pages_are_admin_only(user_client, client, library):
    for url in ("/admin/libraries/", "/admin/libraries/new/", f"/admin/libraries/{library.pk}/",
                f"/admin/libraries/{library.pk}/delete/"):
        assert user_client.get(url).status_code == 403
        assert client.get(url).status_code == 302
    assert user_client.post(f"/admin/libraries/{library.pk}/scan/").status_code == 403
    assert not Job.objects.exists()


def test_list_shows_owner_paths_patterns_and_the_last_scan(admin_client, library, folder):
    (folder / "b.jpg").write_bytes(b"")  # unreadable as a photo is fine for the scan; a missing path is an error
    library.import_paths.append(str(folder.parent / "gone"))
    library.save()
    libraries.scan_library(library.pk)
    page = admin_client.get("/admin/libraries/").content.decode()
    assert "Family" in page and "user@example.com" in page and str(folder) in page
    assert "**/@eaDir/**" in page
    assert 'data-count="new">2<' in page and 'data-count="offline">0<' in page
    assert "1 error" in page and "gone” does not exist." in page


def test_list_escapes_user_text(admin_client, user, folder, media_root):
    libraries.save_library(owner=user, name="<script>alert(1)</script>", import_paths=[str(folder)])
    page = admin_client.get("/admin/libraries/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_create_with_a_bad_path_shows_the_error_beside_the_field_and_saves_nothing(admin_client, user, folder):
    answer = admin_client.post("/admin/libraries/new/", {
        "name": "Holidays", "owner": user.pk, "import_paths": f"{folder}\n/no/such/folder",
        "exclusion_patterns": "*.tmp"})
    assert answer.status_code == 200
    page = answer.content.decode()
    field = page[page.index('id="field-import_paths"'):page.index('id="field-exclusion_patterns"')]
    assert "“/no/such/folder” does not exist." in field
    assert not Library.objects.exists()


def test_create_then_edit(admin_client, user, admin_user, folder, media_root):
    form = admin_client.get("/admin/libraries/new/").content.decode()
    assert "**/@eaDir/**" in form  # Immich's default exclusions prefilled
    answer = admin_client.post("/admin/libraries/new/", {
        "name": "Holidays", "owner": user.pk, "import_paths": f"  {folder}  \n\n", "exclusion_patterns": "*.tmp"})
    assert answer.status_code == 302
    library = Library.objects.get()
    assert (library.name, library.owner, library.import_paths, library.exclusion_patterns) == (
        "Holidays", user, [str(folder)], ["*.tmp"])
    edit = admin_client.get(f"/admin/libraries/{library.pk}/").content.decode()
    assert str(folder) in edit and "Holidays" in edit
    answer = admin_client.post(f"/admin/libraries/{library.pk}/", {
        "name": "Renamed", "owner": admin_user.pk, "import_paths": str(folder), "exclusion_patterns": ""})
    assert answer.status_code == 302
    library.refresh_from_db()
    assert (library.name, library.owner, library.exclusion_patterns) == ("Renamed", admin_user, [])


def test_edit_with_a_bad_path_keeps_the_saved_library(admin_client, library, user):
    answer = admin_client.post(f"/admin/libraries/{library.pk}/", {
        "name": "Other", "owner": user.pk, "import_paths": "relative/path", "exclusion_patterns": ""})
    assert "is not an absolute path" in answer.content.decode()
    library.refresh_from_db()
    assert library.name == "Family"


def test_scan_now_queues_the_library_job_once(admin_client, library):
    first = admin_client.post(f"/admin/libraries/{library.pk}/scan/", follow=True).content.decode()
    assert "Scan of “Family” queued" in first
    again = admin_client.post(f"/admin/libraries/{library.pk}/scan/", follow=True).content.decode()
    assert "already waiting or running" in again
    job = Job.objects.get()
    assert (job.queue, job.name, job.data) == ("library", "LibrarySyncFiles", {"id": str(library.pk)})
    assert admin_client.get(f"/admin/libraries/{library.pk}/scan/").status_code == 405


def test_delete_asks_first_and_never_deletes_files(admin_client, library, folder, django_capture_on_commit_callbacks):
    libraries.scan_library(library.pk)
    asset = Asset.objects.get()
    thumbnails.generate_asset(asset.pk)
    asset.refresh_from_db()
    confirm = admin_client.get(f"/admin/libraries/{library.pk}/delete/").content.decode()
    assert "No file is deleted from disk" in confirm and "1 asset " in confirm
    assert Library.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"/admin/libraries/{library.pk}/delete/").status_code == 302
    assert not Library.objects.exists() and not Asset.objects.exists()
    assert (folder / "a.jpg").read_bytes() == (PHOTOS / "mongolels.jpg").read_bytes()
    assert not thumbnails.absolute(asset.thumbnail_path).exists()  # only what the server generated goes


def test_list_says_whether_watching_is_on(admin_client, admin_user, library):
    assert 'data-watch="off"' in admin_client.get("/admin/libraries/").content.decode()
    assert save_values({"library.watch.enabled": True, "library.watch.usePolling": True}, user=admin_user,
                       from_form=False).ok
    page = admin_client.get("/admin/libraries/").content.decode()
    assert 'data-watch="on"' in page and "on, by polling" in page
    assert 'data-watching-worker=""' in page and "No job worker is watching yet" in page

    assert LeaseLock(WATCH_LOCK, "nas:4242").hold()  # what the watcher process of a runjobs holds
    page = admin_client.get("/admin/libraries/").content.decode()
    assert 'data-watching-worker="nas:4242"' in page and "<code>nas:4242</code>" in page


def test_every_error_of_the_form_shows_at_once(admin_client, user, folder):
    """A missing name and owner do not hide the bad path and the bad pattern until the next try."""
    answer = admin_client.post("/admin/libraries/new/", {
        "name": "", "owner": "", "import_paths": f"{folder}\n/no/such/folder", "exclusion_patterns": "[z-a]"})
    page = answer.content.decode()

    def field(name):
        start = page.index(f'id="field-{name}"')
        return page[start:page.index("</div>", start)]

    assert "This field is required." in field("name")
    assert "This field is required." in field("owner")
    assert "“/no/such/folder” does not exist." in field("import_paths")
    assert "is not a valid pattern" in field("exclusion_patterns")
    assert not Library.objects.exists()


def test_the_owner_is_preselected_when_there_is_one_user(admin_client, admin_user, django_user_model):
    form = admin_client.get("/admin/libraries/new/").content.decode()
    assert f'<option value="{admin_user.pk}" selected>' in form
    django_user_model.objects.create_user("second@example.com", "pw-123456789")
    form = admin_client.get("/admin/libraries/new/").content.decode()
    owner_select = form.split('name="owner"')[1].split("</select>")[0]
    assert '<option value="" selected>' in owner_select  # two possible owners: the administrator chooses
