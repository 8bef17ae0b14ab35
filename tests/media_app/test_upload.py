"""Upload service, the upload page's endpoint and Immich's POST /api/assets: files land in the upload
location with their SHA1, duplicates by content are reported and not stored twice, bad files are refused
with the reason, and metadata extraction is queued."""

import errno
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client

from jobs_app.models import Job
from media_app.models import Asset
from media_app.services.upload import remove_user_media, store_upload, sweep_partial_uploads, upload_root
from users_app.models import ApiKey

from .conftest import PHOTOS, VIDEOS

PHOTO = PHOTOS / "mongolels.jpg"
OTHER = PHOTOS / "tanners_ridge.jpg"


def file_of(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def stored_files(owner) -> list[Path]:
    root = upload_root(owner)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_upload_stores_the_file_with_its_sha1_and_queues_metadata(user, media_root, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = store_upload(user, file_of(PHOTO))
    assert result.status == "created"
    asset = Asset.objects.get(pk=result.asset_id)
    assert asset.checksum == hashlib.sha1(PHOTO.read_bytes()).hexdigest()
    assert asset.owner == user and asset.library is None and asset.type == "image"
    assert asset.original_filename == "mongolels.jpg" and asset.file_size == PHOTO.stat().st_size
    path = Path(asset.original_path)
    assert path.is_relative_to(Path(media_root) / "upload" / str(user.pk)) and path.suffix == ".jpg"
    assert path.read_bytes() == PHOTO.read_bytes()
    assert stored_files(user) == [path]  # no temporary file left behind
    job = Job.objects.get(name="AssetExtractMetadata")
    assert job.data == {"id": str(asset.pk), "source": "upload"}


def test_a_duplicate_is_reported_and_not_stored_twice(user, media_root):
    first = store_upload(user, file_of(PHOTO))
    again = store_upload(user, file_of(PHOTO, "renamed copy.jpg"))
    assert (again.status, again.asset_id) == ("duplicate", first.asset_id)
    assert Asset.objects.count() == 1 and len(stored_files(user)) == 1


def test_the_same_file_for_another_owner_is_not_a_duplicate(user, admin_user, media_root):
    assert store_upload(user, file_of(PHOTO)).status == "created"
    assert store_upload(admin_user, file_of(PHOTO)).status == "created"


@pytest.mark.parametrize("name, content, reason", [
    ("notes.txt", b"hello", "unsupported file type “.txt”"),
    ("empty.jpg", b"", "empty file (0 bytes)"),
    ("fake.jpg", b"this is not a jpeg at all" * 10, "not an image"),
    ("truncated.jpg", PHOTO.read_bytes()[:20000], "truncated image"),
    ("fake.mp4", b"\x00" * 5000, ""),
])
def test_bad_files_are_refused_with_the_reason_and_nothing_is_kept(user, media_root, name, content, reason):
    result = store_upload(user, SimpleUploadedFile(name, content))
    assert result.status == "refused"
    assert reason in result.reason and result.reason
    assert not Asset.objects.exists() and stored_files(user) == []


def test_a_video_is_accepted(user, media_root):
    video = next(path for path in sorted(VIDEOS.iterdir()) if path.suffix.lower() in (".mp4", ".mov"))
    result = store_upload(user, file_of(video))
    assert result.status == "created" and Asset.objects.get().type == "video"


def test_remove_user_media_keeps_other_users_uploads(user, admin_user, media_root, django_capture_on_commit_callbacks):
    mine, theirs = store_upload(user, file_of(PHOTO)), store_upload(admin_user, file_of(PHOTO))
    with django_capture_on_commit_callbacks(execute=True):
        remove_user_media(user)
    assert not Path(Asset.objects.get(pk=mine.asset_id).original_path).exists()
    assert Path(Asset.objects.get(pk=theirs.asset_id).original_path).exists()



# --- Partial uploads never stay behind ----------------------------------------------------------------------


class DiskFullUpload(SimpleUploadedFile):
    """An upload whose writing fails half-way, as on a full disk: the first chunk is written, then ENOSPC."""

    def chunks(self, chunk_size=None):
        yield self.read(1000)
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_leaves_no_partial_file(user, media_root):
    with pytest.raises(OSError, match="No space left"):
        store_upload(user, DiskFullUpload("big.jpg", PHOTO.read_bytes()))
    assert upload_root(user).is_dir() and stored_files(user) == []
    assert not Asset.objects.exists()


def test_a_database_failure_after_the_move_leaves_no_file(user, media_root, monkeypatch):
    def refuse(**fields):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(Asset.objects, "create", refuse)
    with pytest.raises(DatabaseError):
        store_upload(user, file_of(PHOTO))
    assert stored_files(user) == []


def partial_upload(owner, name: str, age_seconds: float) -> Path:
    folder = upload_root(owner)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"half a photo")
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_the_sweep_removes_old_partial_uploads_and_keeps_the_rest(user, admin_user, media_root):
    old = partial_upload(user, ".upload-old.jpg", 2 * 3600)
    other_users_old = partial_upload(admin_user, ".upload-xyz.mp4", 3 * 86400)
    arriving = partial_upload(user, ".upload-new.jpg", 10)  # may be an upload still being written
    stored = store_upload(user, file_of(PHOTO))
    assert sweep_partial_uploads() == 2
    assert not old.exists() and not other_users_old.exists() and arriving.exists()
    assert Path(Asset.objects.get(pk=stored.asset_id).original_path).exists()


def test_the_sweep_without_an_upload_folder_does_nothing(media_root):
    assert sweep_partial_uploads() == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_sweeps_old_partial_uploads_at_start_up(user, shared_media, child_env):
    old = partial_upload(user, ".upload-killed.jpg", 2 * 3600)
    arriving = partial_upload(user, ".upload-arriving.jpg", 5)
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--no-jobs", "--no-ml", "--port", str(free_port()),
                               "--web-workers", "1"], cwd=settings.BASE_DIR, env=child_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("Serving on"):
                break
        assert "Removed 1 partial upload(s) left by an earlier run.\n" in lines, "".join(lines)
        assert not old.exists() and arriving.exists()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


# --- The page and its endpoint ----------------------------------------------------------------------------


def test_the_upload_page_needs_a_login_and_is_for_every_user(client, user_client):
    assert client.get("/upload/").status_code == 302
    page = user_client.get("/upload/")
    assert page.status_code == 200
    assert b'type="file" name="files" multiple' in page.content and b"upload.js" in page.content


def test_the_page_endpoint_answers_per_file(user_client, user, media_root):
    answer = user_client.post("/upload/files/", {"files": [file_of(PHOTO), file_of(OTHER), file_of(PHOTO, "again.jpg"),
                                                            SimpleUploadedFile("x.txt", b"x")]}).json()
    assert [row["status"] for row in answer["results"]] == ["created", "created", "duplicate", "refused"]
    assert [row["filename"] for row in answer["results"]] == [
        "mongolels.jpg", "tanners_ridge.jpg", "again.jpg", "x.txt"]
    assert Asset.objects.filter(owner=user).count() == 2


def test_the_page_endpoint_needs_csrf_and_a_login(user, media_root):
    assert Client().post("/upload/files/", {"files": [file_of(PHOTO)]}).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/upload/files/", {"files": [file_of(PHOTO)]}).status_code == 403
    assert not Asset.objects.exists()


def test_the_page_endpoint_without_files_says_so(user_client):
    answer = user_client.post("/upload/files/", {})
    assert answer.status_code == 400 and "No file was sent" in answer.json()["message"]


def test_file_dates_sent_by_the_page_are_kept(user_client, media_root):
    user_client.post("/upload/files/", {"files": [file_of(PHOTO)], "lastModified": "1600000000000"})
    assert Asset.objects.get().file_modified_at.timestamp() == 1600000000


# --- Immich's POST /api/assets ------------------------------------------------------------------------------


@pytest.fixture
def api_key(user):
    key, secret = ApiKey.issue(user, "phone")
    return secret


def test_api_upload_answers_created_then_duplicate(client, user, api_key, media_root):
    headers = {"HTTP_X_API_KEY": api_key}
    created = client.post("/api/assets", {"assetData": file_of(PHOTO), "deviceAssetId": "a", "deviceId": "phone",
                                          "fileCreatedAt": "2020-01-02T03:04:05.000Z",
                                          "fileModifiedAt": "2020-01-02T03:04:05.000Z"}, **headers)
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "created"
    asset = Asset.objects.get(pk=body["id"])
    assert asset.owner == user and asset.file_created_at.isoformat() == "2020-01-02T03:04:05+00:00"
    assert (asset.device_asset_id, asset.device_id) == ("a", "phone")
    duplicate = client.post("/api/assets", {"assetData": file_of(PHOTO)}, **headers)
    assert duplicate.status_code == 200 and duplicate.json() == {"id": body["id"], "status": "duplicate"}


def test_api_upload_refuses_bad_files_and_anonymous_clients(client, api_key, media_root):
    assert client.post("/api/assets", {"assetData": file_of(PHOTO)}).status_code == 401
    bad = client.post("/api/assets", {"assetData": SimpleUploadedFile("a.jpg", b"nope")}, HTTP_X_API_KEY=api_key)
    assert bad.status_code == 400 and "a.jpg: not an image" in bad.json()["message"]
    missing = client.post("/api/assets", {}, HTTP_X_API_KEY=api_key)
    assert missing.status_code == 400 and "assetData" in missing.json()["message"]
    assert not Asset.objects.exists()


# Immich's checkExistingAssets, gone from the pinned SDK 3.2.2 (its mobile app still asks): plain HTTP.
def test_existing_device_assets_are_those_the_callers_device_uploaded(client, user, admin_user, api_key, media_root):
    headers = {"HTTP_X_API_KEY": api_key}
    for name, device_asset_id, device_id in ((PHOTO, "a", "phone"), (OTHER, "b", "tablet")):
        client.post("/api/assets", {"assetData": file_of(name), "deviceAssetId": device_asset_id,
                                    "deviceId": device_id}, **headers)
    store_upload(admin_user, file_of(PHOTO), device_asset_id="c", device_id="phone")  # someone else's

    def exist(device_id, ids):
        return client.post("/api/assets/exist", {"deviceAssetIds": ids, "deviceId": device_id},
                           content_type="application/json", **headers)

    answer = exist("phone", ["a", "b", "c", "d"])
    assert answer.status_code == 200 and answer.json() == {"existingIds": ["a"]}
    assert exist("tablet", ["a", "b"]).json() == {"existingIds": ["b"]}
    Asset.objects.filter(device_asset_id="a").update(deleted_at="2024-01-01T00:00:00Z")  # trashed is still here
    assert exist("phone", ["a"]).json() == {"existingIds": ["a"]}
    refused = exist("phone", [])
    assert refused.status_code == 400 and "deviceAssetIds" in str(refused.json())
    assert client.post("/api/assets/exist", {"deviceAssetIds": ["a"], "deviceId": "phone"},
                       content_type="application/json").status_code == 401
