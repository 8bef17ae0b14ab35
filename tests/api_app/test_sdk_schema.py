"""Schema drift: our OpenAPI document (/api/spec.json) against the pinned @immich/sdk's type declarations,
for every operation both have (same method and path): request bodies, query parameters and responses."""

import copy

import pytest

from tests.api_app.schema_drift import compare_operations
from tests.api_app.sdk_types import load_sdk
from users_app import permissions

# The endpoints (and the CLI's), and those declared since: each must be compared, with a declared
# response schema.
REQUIRED = {
    "getMyUser", "updateMyUser", "getMyPreferences", "updateMyPreferences", "getUserPreferencesAdmin",
    "updateUserPreferencesAdmin", "getUser", "getProfileImage", "searchUsersAdmin",
    "createUserAdmin", "getUserAdmin", "updateUserAdmin", "deleteUserAdmin", "restoreUserAdmin",
    "getUserStatisticsAdmin", "getAboutInfo", "getServerStatistics", "getStorage", "getSupportedMediaTypes",
    "getServerLicense", "checkBulkUpload", "uploadAsset", "getAssetInfo", "updateAsset", "updateAssets",
    "deleteAssets", "getAssetStatistics", "getTimeBuckets", "getTimeBucket", "getMapMarkers", "emptyTrash",
    "restoreTrash", "restoreAssets", "getApiKeys", "createApiKey", "getMyApiKey", "getApiKey", "updateApiKey",
    "deleteApiKey", "viewAsset", "downloadAsset", "playAssetVideo", "getServerVersion",
    "getAllPeople", "updatePeople", "getPerson", "updatePerson", "mergePersonLegacy", "getPersonStatistics", "getFaces",
    "searchAssets", "searchSmart", "getAssetDuplicates", "linkOAuthAccount", "unlinkOAuthAccount",
    "searchMemories", "addAssetsToAlbum", "removeAssetFromAlbum",
}
# Endpoints built before this check whose responses are plain dicts, so the document has no schema to
# compare; declare a response schema to bring one under the check (and remove it here).
UNDECLARED_BEFORE = {
    "logout", "startOAuth", "finishOAuth", "getConfig", "updateConfig",
    "getConfigDefaults", "getStorageTemplateOptions",
    "getServerLicense", "getVersionCheck", "getVersionHistory", "getQueuesLegacy",
    "runQueueCommandLegacy", "getQueues", "getQueue", "updateQueue", "getQueueJobs",
    # Albums and notifications: their shapes are asserted by their own tests (tests/albums_app,
    # tests/notifications_app), not yet by a declared schema.
    "addUsersToAlbum", "createAlbum", "getAlbumInfo", "getAllAlbums",
    "getNotificationTemplateAdmin", "sendTestEmailAdmin", "updateAlbumInfo",
}


@pytest.fixture(scope="module")
def sdk():
    return load_sdk()


@pytest.fixture
def spec(client):
    return client.get("/api/spec.json").json()


def _names(undeclared: list[str]) -> set[str]:
    return {where.rsplit("(", 1)[1].rstrip(")") for where in undeclared}


@pytest.mark.django_db
def test_our_document_matches_the_sdk_for_every_shared_operation(spec, sdk):
    matched, problems, undeclared = compare_operations(spec, sdk)
    assert problems == [], "\n".join(problems)
    assert REQUIRED <= set(matched.values()), REQUIRED - set(matched.values())
    assert _names(undeclared) <= UNDECLARED_BEFORE, _names(undeclared) - UNDECLARED_BEFORE
    assert not (_names(undeclared) & REQUIRED) - {"getServerLicense"}  # 404 only: no license is ever held


def test_our_api_key_permissions_are_the_sdks(sdk):
    assert list(permissions.PERMISSIONS) == sdk.enums["Permission"]


def _drifted(sdk, change) -> object:
    drifted = copy.deepcopy(sdk)
    change(drifted)
    return drifted


def _field(sdk, type_name: str):
    return sdk.types[type_name][1]


@pytest.mark.django_db
@pytest.mark.parametrize("change, expected", [
    # A renamed response property: ours is unknown to the SDK, the SDK's is missing.
    (lambda sdk: _field(sdk, "UserAdminResponseDto").update(
        {"emailAddress": _field(sdk, "UserAdminResponseDto").pop("email")}),
     ["GET /api/users/me (getMyUser) response.email: ours has it",
      "GET /api/users/me (getMyUser) response.emailAddress: the SDK requires it; ours lacks it"]),
    # A property that may be null for us but never for the SDK's clients.
    (lambda sdk: _field(sdk, "MapMarkerResponseDto").update(city=(("prim", "string"), False)),
     ["GET /api/map/markers (getMapMarkers) response[].city: ours may be null"]),
    # A request field the SDK now leaves out, which we require.
    (lambda sdk: _field(sdk, "AssetBulkDeleteDto").update(ids=(_field(sdk, "AssetBulkDeleteDto")["ids"][0], True)),
     ["DELETE /api/assets (deleteAssets) body.ids: ours requires it; the SDK may leave it out"]),
    # An enum value the SDK lost, which we may answer.
    (lambda sdk: sdk.enums["AssetVisibility"].remove("locked"),
     ["GET /api/assets/{asset_id} (getAssetInfo) response.visibility: ours may answer ['locked']"]),
    # A type change.
    (lambda sdk: _field(sdk, "TrashResponseDto").update(count=(("prim", "string"), False)),
     ["POST /api/trash/empty (emptyTrash) response.count: the SDK's type is string; ours is integer"]),
])
def test_a_drift_from_the_sdk_is_reported(spec, sdk, change, expected):
    _, problems, _ = compare_operations(spec, _drifted(sdk, change))
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)
