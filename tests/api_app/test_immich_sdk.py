"""The pinned @immich/sdk (its generated client, run by Node 22) calls the users, admin users, server,
assets, timeline, map, trash and API key endpoints of a live server; each answer is checked against the
SDK's declared type (sdk_types.shape_problems) and for what it says."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs_app.models import Job
from media_app.formats import asset_type_for
from media_app.models import Asset
from media_app.services.statistics import human_size
from notifications_app.models import EmailPreferences
from tests.api_app.sdk_types import load_sdk, shape_problems
from tests.conftest import TESTDATA
from tests.node_packages import node_22
from users_app import services
from users_app.models import ApiKey

CLIENT_SCRIPT = Path(__file__).resolve().parent / "sdk_client.mjs"
JPEG = TESTDATA / "photos" / "tanners_ridge.jpg"
pytestmark = pytest.mark.django_db(transaction=True)


class SdkClient:
    def __init__(self, process):
        self.process = process
        self.sdk = load_sdk()

    def raw(self, call: str, args=None, key: str | None = None) -> dict:
        self.process.stdin.write(json.dumps({"call": call, "args": args, "key": key}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the SDK client stopped: {self.process.stderr.read()[-2000:]}"
        return json.loads(line)

    def __call__(self, call: str, args=None, key: str | None = None):
        """The SDK function's result, checked against its declared type."""
        answer = self.raw(call, args, key)
        assert answer["ok"], (call, answer)
        assert shape_problems(self.sdk, self.sdk.functions[call].result, answer["data"], call) == []
        return answer["data"]

    def refused(self, call: str, args=None, key: str | None = None) -> tuple[int, dict]:
        answer = self.raw(call, args, key)
        assert not answer["ok"], (call, answer)
        return answer["status"], answer["data"]


@pytest.fixture
def immich_sdk(live_server, admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    _, secret = ApiKey.issue(admin_user, "sdk")
    env = {**os.environ, "IMMICH_URL": f"{live_server.url}/api", "IMMICH_API_KEY": secret}
    process = subprocess.Popen([node_22(), str(CLIENT_SCRIPT)], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield SdkClient(process)
    process.stdin.close()
    process.wait(timeout=10)


@pytest.fixture
def user_key(user):
    return ApiKey.issue(user, "user")[1]


def add_asset(owner, path=JPEG, **fields) -> Asset:
    """An asset row over a test file (read in place); a distinct checksum, so one file can be several."""
    fields = {"checksum": hashlib.sha1(f"{path}{Asset.objects.count()}".encode()).hexdigest(), **fields}
    return Asset.objects.create(owner=owner, type=asset_type_for(path), original_path=str(path),
                                original_filename=Path(path).name, file_size=Path(path).stat().st_size, **fields)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Users ------------------------------------------------------------------------------------------------


def test_the_caller_reads_and_changes_their_account(immich_sdk, admin_user, user, user_key):
    me = immich_sdk("getMyUser")
    assert (me["email"], me["isAdmin"], me["status"], me["id"]) == ("admin@example.com", True, "active",
                                                                     str(admin_user.pk))
    changed = immich_sdk("updateMyUser", {"userUpdateMeDto": {"name": "Renamed", "avatarColor": "green"}})
    assert (changed["name"], changed["avatarColor"]) == ("Renamed", "green")
    admin_user.refresh_from_db()
    assert admin_user.name == "Renamed"
    EmailPreferences.objects.create(user=admin_user, album_update=False)  # the account page's switch
    preferences = immich_sdk("getMyPreferences")
    assert preferences["albums"]["defaultAssetOrder"] == "desc"
    assert preferences["emailNotifications"] == {"enabled": True, "albumInvite": True, "albumUpdate": False}
    public = immich_sdk("getUser", {"id": str(user.pk)})
    assert public == {"id": str(user.pk), "name": "User", "email": "user@example.com", "avatarColor": "primary",
                      "profileImagePath": "", "profileChangedAt": public["profileChangedAt"]}
    assert immich_sdk.refused("getProfileImage", {"id": str(user.pk)})[0] == 404
    status, body = immich_sdk.refused("updateMyUser", {"userUpdateMeDto": {"email": "user@example.com"}})
    assert status == 400 and body["errors"][0]["path"] == ["email"]


def test_preferences_are_set_by_the_caller_and_by_administrators(immich_sdk, admin_user, user):
    mine = immich_sdk("updateMyPreferences", {"userPreferencesUpdateDto": {
        "albums": {"defaultAssetOrder": "asc"}, "emailNotifications": {"albumInvite": False}}})
    assert mine["albums"]["defaultAssetOrder"] == "asc"
    assert immich_sdk("getMyPreferences")["emailNotifications"] == {"enabled": True, "albumInvite": False,
                                                                    "albumUpdate": True}
    theirs = immich_sdk("updateUserPreferencesAdmin", {"id": str(user.pk), "userPreferencesUpdateDto": {
        "download": {"archiveSize": 1024**3}}})
    assert theirs["download"]["archiveSize"] == 1024**3 and theirs["albums"]["defaultAssetOrder"] == "desc"
    assert immich_sdk("getUserPreferencesAdmin", {"id": str(user.pk)}) == theirs
    status, body = immich_sdk.refused("updateMyPreferences", {"userPreferencesUpdateDto": {
        "memories": {"duration": 0}}})
    assert status == 400 and body["errors"][0]["path"] == ["memories", "duration"]


def test_administrators_manage_users(immich_sdk, admin_user, user, user_key, live_server):
    created_signals = []

    def record(sender, **kwargs):
        created_signals.append(kwargs)

    services.user_created.connect(record)
    try:
        created = immich_sdk("createUserAdmin", {"userAdminCreateDto": {
            "email": "New@Example.com", "name": "New", "password": "a-new-password-42", "notify": True,
            "quotaSizeInBytes": 10 * 1024**3, "storageLabel": "new"}})
    finally:
        services.user_created.disconnect(record)
    assert (created["email"], created["quotaSizeInBytes"], created["storageLabel"]) == (
        "new@example.com", 10 * 1024**3, "new")
    assert [(s["user"].email, s["password"], s["notify"], s["base_url"]) for s in created_signals] == [
        ("new@example.com", "a-new-password-42", True, live_server.url)]
    new_id = created["id"]
    assert {u["email"] for u in immich_sdk("searchUsersAdmin", {})} == {
        "admin@example.com", "user@example.com", "new@example.com"}
    updated = immich_sdk("updateUserAdmin", {"id": new_id, "userAdminUpdateDto": {
        "isAdmin": True, "quotaSizeInBytes": None, "shouldChangePassword": True}})
    assert (updated["isAdmin"], updated["quotaSizeInBytes"], updated["shouldChangePassword"]) == (True, None, True)
    status, body = immich_sdk.refused("createUserAdmin", {"userAdminCreateDto": {
        "email": "user@example.com", "name": "Again", "password": "another-password-42"}})
    assert (status, body["errors"][0]["message"]) == (400, "User exists")

    # Delete honours the delete delay; restore cancels; force queues the removal at once.
    deleted = immich_sdk("deleteUserAdmin", {"id": new_id, "userAdminDeleteDto": {}})
    assert deleted["status"] == "deleted" and deleted["deletedAt"]
    assert new_id not in {u["id"] for u in immich_sdk("searchUsersAdmin", {})}
    assert new_id in {u["id"] for u in immich_sdk("searchUsersAdmin", {"withDeleted": True})}
    assert immich_sdk("restoreUserAdmin", {"id": new_id})["status"] == "active"
    immich_sdk("deleteUserAdmin", {"id": new_id, "userAdminDeleteDto": {"force": True}})
    assert Job.objects.filter(name="UserDelete", data={"id": int(new_id)}).exists()

    add_asset(user)
    add_asset(user, TESTDATA / "videos" / "h264_aac_640x360_3s.mp4", is_favorite=True)
    assert immich_sdk("getUserStatisticsAdmin", {"id": str(user.pk)}) == {"images": 1, "videos": 1, "total": 2}
    assert immich_sdk("getUserStatisticsAdmin", {"id": str(user.pk), "isFavorite": True})["total"] == 1
    assert immich_sdk("getUserAdmin", {"id": str(user.pk)})["email"] == "user@example.com"

    # Not for other users.
    assert immich_sdk.refused("searchUsersAdmin", {}, key=user_key)[0] == 403


# --- Server -----------------------------------------------------------------------------------------------


def test_server_information(immich_sdk, admin_user, user, user_key, settings):
    add_asset(user)
    add_asset(admin_user, TESTDATA / "videos" / "h264_aac_640x360_3s.mp4")
    about = immich_sdk("getAboutInfo")
    assert about["version"].startswith("v") and about["licensed"] is False and about["ffmpeg"]
    stats = immich_sdk("getServerStatistics")
    assert (stats["photos"], stats["videos"]) == (1, 1)
    assert stats["usage"] == JPEG.stat().st_size + (TESTDATA / "videos" / "h264_aac_640x360_3s.mp4").stat().st_size
    per_user = {row["userName"]: row for row in stats["usageByUser"]}
    assert (per_user["User"]["photos"], per_user["User"]["usagePhotos"]) == (1, JPEG.stat().st_size)
    storage = immich_sdk("getStorage")
    disk = shutil.disk_usage(settings.MEDIA_ROOT.parent)
    assert storage["diskSizeRaw"] == disk.total and storage["diskSize"] == human_size(disk.total)
    assert storage["diskUsagePercentage"] == pytest.approx(storage["diskUseRaw"] / disk.total * 100, abs=0.01)
    types = immich_sdk("getSupportedMediaTypes")
    assert {".heic", ".jpg"} <= set(types["image"]) and ".mp4" in types["video"]
    assert immich_sdk.refused("getServerLicense")[0] == 404
    assert immich_sdk.refused("getServerStatistics", key=user_key)[0] == 403


# --- Assets, trash ----------------------------------------------------------------------------------------


def test_assets_upload_check_info_edit_and_trash(immich_sdk, admin_user, settings):
    uploaded = immich_sdk("uploadAsset", {"assetMediaCreateDto": {
        "assetData": f"file:{JPEG}", "fileCreatedAt": "2020-01-01T00:00:00.000Z",
        "fileModifiedAt": "2020-01-01T00:00:00.000Z"}})
    assert uploaded["status"] == "created"
    asset_id = uploaded["id"]
    sha1 = hashlib.sha1(JPEG.read_bytes())
    check = immich_sdk("checkBulkUpload", {"assetBulkUploadCheckDto": {"assets": [
        {"id": "hex", "checksum": sha1.hexdigest()}, {"id": "base64", "checksum": base64.b64encode(sha1.digest())
                                                       .decode()},
        {"id": "new", "checksum": "0" * 40}]}})
    assert check["results"] == [
        {"id": "hex", "action": "reject", "reason": "duplicate", "assetId": asset_id, "isTrashed": False},
        {"id": "base64", "action": "reject", "reason": "duplicate", "assetId": asset_id, "isTrashed": False},
        {"id": "new", "action": "accept"}]

    info = immich_sdk("getAssetInfo", {"id": asset_id})
    assert (info["originalFileName"], info["type"], info["isFavorite"]) == ("tanners_ridge.jpg", "IMAGE", False)
    assert info["checksum"] == base64.b64encode(sha1.digest()).decode()
    edited = immich_sdk("updateAsset", {"id": asset_id, "updateAssetDto": {
        "isFavorite": True, "description": "Ridge", "dateTimeOriginal": "2021-06-01T10:30:00+02:00",
        "latitude": 38.5, "longitude": -109.5}})
    assert (edited["isFavorite"], edited["exifInfo"]["description"]) == (True, "Ridge")
    assert edited["localDateTime"].startswith("2021-06-01T10:30:00")
    assert edited["fileCreatedAt"].startswith("2021-06-01T08:30:00")
    assert (edited["exifInfo"]["latitude"], edited["exifInfo"]["longitude"]) == (38.5, -109.5)
    status, body = immich_sdk.refused("updateAsset", {"id": asset_id, "updateAssetDto": {"latitude": 91,
                                                                                          "longitude": 0}})
    assert status == 400 and body["errors"][0]["path"] == ["latitude"]

    immich_sdk("updateAssets", {"assetBulkUpdateDto": {"ids": [asset_id], "visibility": "archive"}})
    assert immich_sdk("getAssetInfo", {"id": asset_id})["isArchived"] is True
    assert immich_sdk("getAssetStatistics", {"visibility": "archive"}) == {"images": 1, "videos": 0, "total": 1}

    immich_sdk("deleteAssets", {"assetBulkDeleteDto": {"ids": [asset_id]}})
    assert immich_sdk("getAssetInfo", {"id": asset_id})["isTrashed"] is True
    assert immich_sdk("getAssetStatistics", {"isTrashed": True})["total"] == 1
    assert immich_sdk("restoreAssets", {"bulkIdsDto": {"ids": [asset_id]}}) == {"count": 1}
    immich_sdk("deleteAssets", {"assetBulkDeleteDto": {"ids": [asset_id]}})
    assert immich_sdk("restoreTrash") == {"count": 1}
    immich_sdk("deleteAssets", {"assetBulkDeleteDto": {"ids": [asset_id]}})
    original = Path(Asset.objects.get(pk=asset_id).original_path)
    assert immich_sdk("emptyTrash") == {"count": 1}
    assert not Asset.objects.filter(pk=asset_id).exists() and not original.exists()
    assert immich_sdk.refused("getAssetInfo", {"id": asset_id})[0] == 404


# --- Timeline buckets, map --------------------------------------------------------------------------------


def test_timeline_buckets_and_map_markers(immich_sdk, admin_user, user):
    may = [add_asset(admin_user, local_taken_at=at(f"2024-05-{day:02d}T12:00:00"),
                     taken_at=at(f"2024-05-{day:02d}T10:00:00"), timezone="+02:00", width=400, height=300,
                     latitude=60.17, longitude=24.94, city="Helsinki", country="Finland") for day in (3, 20)]
    june = add_asset(admin_user, TESTDATA / "videos" / "h264_aac_640x360_3s.mp4", duration=3.0,
                     local_taken_at=at("2024-06-01T08:00:00"), taken_at=at("2024-06-01T08:00:00"),
                     is_favorite=True)
    add_asset(admin_user, local_taken_at=at("2023-01-01T00:00:00"), visibility="archive", latitude=1, longitude=2)
    add_asset(user, local_taken_at=at("2024-05-05T00:00:00"))  # someone else's

    assert immich_sdk("getTimeBuckets", {}) == [{"timeBucket": "2024-06-01", "count": 1},
                                               {"timeBucket": "2024-05-01", "count": 2},
                                               {"timeBucket": "2023-01-01", "count": 1}]
    assert immich_sdk("getTimeBuckets", {"visibility": "timeline", "order": "asc"}) == [
        {"timeBucket": "2024-05-01", "count": 2}, {"timeBucket": "2024-06-01", "count": 1}]
    assert immich_sdk("getTimeBuckets", {"isFavorite": True}) == [{"timeBucket": "2024-06-01", "count": 1}]

    bucket = immich_sdk("getTimeBucket", {"timeBucket": "2024-05-01", "withCoordinates": True})
    assert bucket["id"] == [str(may[1].id), str(may[0].id)]
    assert bucket["ratio"] == [400 / 300] * 2 and bucket["localOffsetHours"] == [2, 2]
    assert bucket["city"] == ["Helsinki"] * 2 and bucket["isImage"] == [True, True]
    assert bucket["fileCreatedAt"] == ["2024-05-20T10:00:00Z", "2024-05-03T10:00:00Z"]
    video = immich_sdk("getTimeBucket", {"timeBucket": "2024-06-01"})
    assert (video["id"], video["duration"], video["isImage"]) == ([str(june.id)], [3000], [False])
    assert "city" not in video  # coordinates only when asked
    status, body = immich_sdk.refused("getTimeBucket", {"timeBucket": "May"})
    assert status == 400 and body["errors"][0]["path"] == ["timeBucket"]

    markers = immich_sdk("getMapMarkers", {})
    assert sorted(m["id"] for m in markers) == sorted(str(a.id) for a in may)
    assert markers[0] | {"id": ""} == {"id": "", "lat": 60.17, "lon": 24.94, "city": "Helsinki", "state": None,
                                       "country": "Finland"}
    assert len(immich_sdk("getMapMarkers", {"isArchived": True})) == 3


# --- API keys and their permissions --------------------------------------------------------------------


def test_api_key_permissions_through_the_sdk(immich_sdk, admin_user):
    narrow = immich_sdk("createApiKey", {"apiKeyCreateDto": {"name": "reader",
                                                             "permissions": ["asset.read", "apiKey.create",
                                                                             "apiKey.update"]}})
    key = narrow["secret"]
    assert immich_sdk("getMyApiKey", key=key)["permissions"] == ["asset.read", "apiKey.create", "apiKey.update"]
    # Allowed by the key's permissions, refused beyond them.
    assert immich_sdk.refused("getMyUser", key=key) == (403, {
        "message": "Missing required permission: user.read", "statusCode": 403, "error": "Forbidden"})
    assert immich_sdk("getAssetStatistics", {}, key=None)["total"] == 0
    # GHSA-237r-x578-h5mv: a key can neither mint a broader key nor widen itself.
    status, body = immich_sdk.refused("createApiKey", {"apiKeyCreateDto": {"permissions": ["all"]}}, key=key)
    assert (status, body["message"]) == (403, "Cannot grant permissions you do not have: all")
    status, _ = immich_sdk.refused("updateApiKey", {"id": narrow["id"], "apiKeyUpdateDto": {
        "permissions": ["asset.read", "apiKey.create", "apiKey.update", "user.read"]}}, key=key)
    assert status == 403
    assert ApiKey.objects.get(pk=narrow["id"]).permissions == ["asset.read", "apiKey.create", "apiKey.update"]
    # Within its own permissions it may.
    child = immich_sdk("createApiKey", {"apiKeyCreateDto": {"name": "child", "permissions": ["asset.read"]}},
                       key=key)
    assert child["apiKey"]["permissions"] == ["asset.read"]
    renamed = immich_sdk("updateApiKey", {"id": child["id"], "apiKeyUpdateDto": {"name": "renamed"}})
    assert renamed["name"] == "renamed"
    assert {k["name"] for k in immich_sdk("getApiKeys")} == {"sdk", "reader", "renamed"}
    assert immich_sdk("getApiKey", {"id": child["id"]})["permissions"] == ["asset.read"]
    immich_sdk.raw("deleteApiKey", {"id": child["id"]})
    assert not ApiKey.objects.filter(pk=child["id"]).exists()
