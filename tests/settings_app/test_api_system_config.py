"""GET/PUT /api/system-config, /defaults and /storage-template-options: Immich's shapes, the round trip
for every category, the 400 shape for each kind of bad input, config-file locks, secrets, access rules."""

import json

import pytest
from django.test import Client

from media_app.storage_template import PRESETS
from settings_app.kinds import Bool, Choice, Float, Int, MultiChoice, Secret, Text, UrlList
from settings_app.models import CATEGORY_MODELS, SettingChange
from settings_app.registry import CATEGORIES, KEYS_BY_PATH
from settings_app.services import defaults, get_config, save_values
from users_app.models import ApiKey

pytestmark = pytest.mark.django_db

JSON = "application/json"
URL = "/api/system-config"


def put(client, body, **headers):
    return client.put(URL, json.dumps(body) if not isinstance(body, str) else body, content_type=JSON, **headers)


def set_path(config: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    node = config
    for name in parents:
        node = node[name]
    node[leaf] = value
    return config


def get_path(config: dict, path: str):
    for name in path.split("."):
        config = config[name]
    return config


# A valid value other than the default, derived from the key's kind (so new keys are covered too).
TEXT_SAMPLES = {
    "url": "https://tiles.example.com/v1/style/custom.json",
    "url?": "https://photos.example.com",
    "domain?": "https://photos.example.com",
    "scope": "openid email",
    "cron": "0 3 * * 1",
    "time": "02:30",
    "bitrate": "5M",
    "css": "body { color: rebeccapurple; }",
    "template": PRESETS[1],
    "": "photos@example.com",
}


def other_valid_value(key):
    kind = key.kind
    if isinstance(kind, Bool):
        return not key.default
    if isinstance(kind, MultiChoice):
        values = [int(value) if kind.numeric else value for value in kind.values]
        return values[:1] if values[:1] != key.default else values[:2]
    if isinstance(kind, Choice):
        return next(value for value in kind.values if value != key.default)
    if isinstance(kind, Float):
        return round((key.default + kind.min_value) / 2, 3)
    if isinstance(kind, Int):
        base = key.default if key.default is not None else kind.min_value
        return base + 1 if base + 1 <= kind.max_value else base - 1
    if isinstance(kind, UrlList):
        return ["http://ml.example.internal:3003"]
    if isinstance(kind, Secret):
        return "a-new-secret"
    if isinstance(kind, Text):
        return TEXT_SAMPLES[kind.fmt]
    raise AssertionError(f"no sample value for {key.path}")


def key_to_change(category):
    """The first key of the category that is not a switch or a secret (else its first key)."""
    return next((key for key in category.keys if not isinstance(key.kind, Bool | Secret)), category.keys[0])


# --- GET ----------------------------------------------------------------------------------------------


def test_get_returns_the_full_effective_config_in_immichs_nested_shape(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body == get_config().as_dict()
    assert body["image"]["thumbnail"] == {"format": "webp", "size": 250, "quality": 80, "progressive": False}
    assert body["machineLearning"]["facialRecognition"]["minScore"] == 0.7
    assert body["ffmpeg"]["realtime"]["resolutions"] == [480, 720, 1080]
    for path, key in KEYS_BY_PATH.items():
        assert get_path(body, path) == key.default, path


def test_get_shows_saved_values(admin_client, admin_user):
    assert save_values({"trash.days": 12, "image.preview.format": "webp"}, user=admin_user).ok
    body = admin_client.get(URL).json()
    assert body["trash"]["days"] == 12
    assert body["image"]["preview"]["format"] == "webp"


def test_defaults_endpoint_returns_the_defaults_whatever_is_saved(admin_client, admin_user):
    assert save_values({"trash.days": 12}, user=admin_user).ok
    response = admin_client.get(URL + "/defaults")
    assert response.status_code == 200
    assert response.json() == defaults().as_dict()
    assert response.json()["trash"]["days"] == 30


def test_storage_template_options_have_immichs_shape(admin_client):
    response = admin_client.get(URL + "/storage-template-options")
    assert response.status_code == 200
    assert response.json() == {
        "dayOptions": ["d", "dd"],
        "monthOptions": ["M", "MM", "MMM", "MMMM"],
        "yearOptions": ["y", "yy"],
        "hourOptions": ["h", "hh", "H", "HH"],
        "minuteOptions": ["m", "mm"],
        "secondOptions": ["s", "ss", "SSS"],
        "weekOptions": ["W", "WW"],
        "presetOptions": list(PRESETS),
        "otherOptions": ["filename", "ext", "filetype", "filetypefull", "assetId", "assetIdShort", "album",
                         "make", "model", "lensModel"],
    }
    assert response.json()["presetOptions"][0] == KEYS_BY_PATH["storageTemplate.template"].default


# --- Round trip: GET -> modify -> PUT -> GET ---------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES, ids=[category.slug for category in CATEGORIES])
def test_round_trip_changes_one_key_of_each_category(admin_client, admin_user, category):
    key = key_to_change(category)
    value = other_valid_value(key)
    assert value != key.default

    config = admin_client.get(URL).json()
    response = put(admin_client, set_path(config, key.path, value))

    assert response.status_code == 200, response.json()
    assert get_path(response.json(), key.path) == value
    assert get_config().get(key.path) == value  # took effect for every reader
    assert get_path(admin_client.get(URL).json(), key.path) == value
    change = SettingChange.objects.get()  # nothing else was touched by sending the whole config back
    assert (change.path, change.new_value, change.source, change.changed_by) == (key.path, value, "api", admin_user)
    row = CATEGORY_MODELS[category.slug].objects.get()
    assert getattr(row, key.column) == value  # stored only because it differs from the default


def test_sending_back_what_get_returned_changes_nothing(admin_client, admin_user):
    # Values the service normalises (external domain -> origin, target codec always accepted) and secrets
    # (blank in GET) must survive the round trip without recording a change.
    assert save_values({
        "server.externalDomain": "https://photos.example.com/some/path",
        "ffmpeg.targetVideoCodec": "hevc",
        "oauth.clientSecret": "the-client-secret",
        "trash.days": 9,
    }, user=admin_user).ok
    SettingChange.objects.all().delete()
    before = get_config().flat()

    config = admin_client.get(URL).json()
    assert config["server"]["externalDomain"] == "https://photos.example.com"
    assert config["ffmpeg"]["acceptedVideoCodecs"] == ["h264", "hevc"]
    response = put(admin_client, config)

    assert response.status_code == 200
    assert response.json() == config
    assert get_config().flat() == before
    assert not SettingChange.objects.exists()


def test_a_partial_body_changes_only_what_it_names(admin_client):
    response = put(admin_client, {"trash": {"days": 9}})
    assert response.status_code == 200
    assert get_config().trash.days == 9
    assert get_config().trash.enabled is True
    assert response.json()["image"] == defaults().as_dict()["image"]


def test_unknown_keys_are_ignored_as_immichs_schema_strips_them(admin_client):
    config = admin_client.get(URL).json()
    config["notASection"] = {"enabled": True}
    config["trash"]["notAKey"] = 5
    config["trash"]["days"] = 11
    response = put(admin_client, config)
    assert response.status_code == 200
    assert get_config().trash.days == 11
    assert "notASection" not in response.json()
    assert "notAKey" not in response.json()["trash"]


def test_string_booleans_are_accepted_as_immichs_configbool(admin_client):
    config = set_path(admin_client.get(URL).json(), "trash.enabled", "false")
    assert put(admin_client, config).status_code == 200
    assert get_config().trash.enabled is False


def test_changing_several_categories_at_once(admin_client):
    config = admin_client.get(URL).json()
    for category in CATEGORIES:
        key = key_to_change(category)
        set_path(config, key.path, other_valid_value(key))
    response = put(admin_client, config)
    assert response.status_code == 200, response.json()
    for category in CATEGORIES:
        key = key_to_change(category)
        assert get_config().get(key.path) == other_valid_value(key), key.path
    assert SettingChange.objects.count() == len(CATEGORIES)


# --- 400: Immich's shape, nothing stored --------------------------------------------------------------


BAD_VALUES = [
    # out of range
    ("image.thumbnail.quality", 101, "from 1 to 100"),
    ("trash.days", -1, "from 0 to 36500"),
    ("machineLearning.facialRecognition.minScore", 0.05, "from 0.1 to 1"),
    ("machineLearning.facialRecognition.maxDistance", 2.5, "from 0.1 to 2"),
    ("machineLearning.facialRecognition.minFaces", 0, "≥ 1"),
    ("oauth.defaultStorageQuota", -1, "≥ 0"),
    # wrong type
    ("trash.days", "many", "whole number"),
    ("image.thumbnail.size", True, "whole number"),
    ("trash.enabled", 1, "true or false"),
    ("trash.enabled", "maybe", "true or false"),
    ("server.loginPageMessage", ["hello"], "string"),
    ("oauth.clientId", 42, "string"),
    ("ffmpeg.acceptedContainers", "mov", "list"),
    ("machineLearning.urls", "http://ml:3003", "list"),
    ("trash.days", None, "whole number"),
    ("trash.days", {"value": 1}, "whole number"),
    # unknown enum
    ("image.thumbnail.format", "gif", "gif"),
    ("machineLearning.clip.modelName", "not-a-model", "not-a-model"),
    ("ffmpeg.acceptedVideoCodecs", ["h264", "divx"], "divx"),
    ("logging.level", "loud", "loud"),
    # bad cron
    ("backup.database.cronExpression", "every night", "cron"),
    ("library.scan.cronExpression", "61 * * * *", "cron"),
    # bad URL
    ("map.lightStyle", "not a url", "URL"),
    ("oauth.issuerUrl", "javascript:alert(1)", "URL"),
    ("machineLearning.urls", ["ftp://ml.example.com"], "URL"),
    ("server.externalDomain", "photos example com", "URL"),
    # other formats and limits
    ("oauth.buttonText", "x" * 101, "at most 100"),
    ("nightlyTasks.startTime", "25:00", "HH:MM"),
    ("storageTemplate.template", "{{y}}/{{nope}}", "Invalid storage template"),
    ("theme.customCss", "</style><script>alert(1)</script>", "</style"),
    ("machineLearning.urls", [], "At least 1"),
    # integrity checks and the queues only the API sets
    ("integrityChecks.checksumFiles.percentageLimit", 1.5, "from 0 to 1"),
    ("integrityChecks.checksumFiles.percentageLimit", -0.1, "from 0 to 1"),
    ("integrityChecks.checksumFiles.timeLimit", -1, "0"),
    ("integrityChecks.missingFiles.cronExpression", "every night", "cron"),
    ("job.integrityCheck.concurrency", 0, "1"),
    ("job.search.concurrency", 65, "64"),
]


@pytest.mark.parametrize("path, value, expected", BAD_VALUES, ids=[f"{p}={v!r}"[:60] for p, v, _ in BAD_VALUES])
def test_bad_value_is_400_in_immichs_shape_and_stores_nothing(admin_client, path, value, expected):
    before = get_config().flat()
    config = set_path(admin_client.get(URL).json(), path, value)

    response = put(admin_client, config)

    assert response.status_code == 400
    body = response.json()
    assert body == {"message": "Validation failed", "statusCode": 400, "error": "Bad Request",
                    "errors": [{"path": path.split("."), "message": body["errors"][0]["message"]}]}
    assert expected in body["errors"][0]["message"]
    assert get_config().flat() == before
    assert not SettingChange.objects.exists()


def stored_rows() -> dict:
    return {slug: list(model.objects.values()) for slug, model in CATEGORY_MODELS.items()}


def test_one_bad_key_among_good_ones_stores_nothing(admin_client):
    rows_before = stored_rows()
    config = admin_client.get(URL).json()
    set_path(config, "trash.days", 5)
    set_path(config, "image.thumbnail.size", 500)
    set_path(config, "server.loginPageMessage", "Hello")
    set_path(config, "user.deleteDelay", 0)  # the bad one, in another category

    response = put(admin_client, config)

    assert response.status_code == 400
    assert [error["path"] for error in response.json()["errors"]] == [["user", "deleteDelay"]]
    assert get_config().trash.days == 30
    assert get_config().image.thumbnail.size == 250
    assert get_config().server.loginPageMessage == ""
    assert not SettingChange.objects.exists()
    assert stored_rows() == rows_before


def test_every_bad_key_is_reported_at_once(admin_client):
    config = admin_client.get(URL).json()
    set_path(config, "image.thumbnail.quality", 0)
    set_path(config, "trash.days", "x")
    set_path(config, "map.darkStyle", "nope")
    response = put(admin_client, config)
    assert response.status_code == 400
    paths = sorted(error["path"] for error in response.json()["errors"])
    assert paths == [["image", "thumbnail", "quality"], ["map", "darkStyle"], ["trash", "days"]]


def test_cross_field_rule_is_reported_on_its_field(admin_client):
    config = admin_client.get(URL).json()
    set_path(config, "oauth.mobileOverrideEnabled", True)
    response = put(admin_client, config)
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == ["oauth", "mobileRedirectUri"]
    assert get_config().oauth.mobileOverrideEnabled is False


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", '"config"', "5", '{"trash": {"days": NaN}}'])
def test_a_body_that_is_not_a_json_object_is_400(admin_client, raw):
    response = put(admin_client, raw)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
    assert response.json()["message"]
    assert not SettingChange.objects.exists()


@pytest.mark.parametrize(
    "body, path",
    [
        ({"image": 5}, ["image"]),
        ({"image": {"thumbnail": "big"}}, ["image", "thumbnail"]),
        ({"trash": None}, ["trash"]),
        ({"machineLearning": {"clip": ["ViT-B-32__openai"]}}, ["machineLearning", "clip"]),
    ],
)
def test_a_section_that_is_not_an_object_is_400(admin_client, body, path):
    response = put(admin_client, body)
    assert response.status_code == 400
    assert response.json()["message"] == "Validation failed"
    assert [error["path"] for error in response.json()["errors"]] == [path]


def test_wrong_method_is_a_json_405(admin_client):
    for method in ("post", "patch", "delete"):
        response = getattr(admin_client, method)(URL)
        assert response.status_code == 405
        assert response["Allow"] == "GET, PUT"
        assert response.json()["statusCode"] == 405
    assert admin_client.put(URL + "/defaults").status_code == 405


# --- Config file locks ------------------------------------------------------------------------------


@pytest.fixture
def config_file_locking(use_config_file):
    """SETTINGS_CONFIG_FILE locking trash.days (5) and oauth.clientSecret."""
    return use_config_file("trash:\n  days: 5\noauth:\n  clientSecret: file-secret\n", "settings.yaml")


def test_locked_key_shows_the_file_value_and_other_keys_stay_editable(admin_client, config_file_locking):
    config = admin_client.get(URL).json()
    assert config["trash"]["days"] == 5
    assert config["oauth"]["clientSecret"] == ""

    set_path(config, "trash.enabled", False)
    response = put(admin_client, config)

    assert response.status_code == 200, response.json()
    assert get_config().trash.enabled is False
    assert get_config().trash.days == 5
    assert get_config().oauth.clientSecret == "file-secret"


def test_changing_a_locked_key_is_400_naming_it_and_stores_nothing(admin_client, config_file_locking):
    config = admin_client.get(URL).json()
    set_path(config, "trash.days", 6)
    set_path(config, "user.deleteDelay", 3)  # valid, but the whole save is refused

    response = put(admin_client, config)

    assert response.status_code == 400
    body = response.json()
    assert "trash.days" in body["message"] and "config file" in body["message"]
    assert body["errors"] == [{"path": ["trash", "days"], "message": body["errors"][0]["message"]}]
    assert "SETTINGS_CONFIG_FILE" in body["errors"][0]["message"]
    assert get_config().trash.days == 5
    assert get_config().user.deleteDelay == 7
    assert not SettingChange.objects.exists()


def test_features_report_the_config_file(client, config_file_locking):
    assert client.get("/api/server/features").json()["configFile"] is True


# --- Secrets ----------------------------------------------------------------------------------------

SECRETS = {"oauth.clientSecret": "oauth-secret-4f7a9", "notifications.smtp.transport.password": "smtp-pass-8c1d2"}


@pytest.fixture
def stored_secrets(admin_user):
    assert save_values(SECRETS, user=admin_user).ok
    assert all(KEYS_BY_PATH[path].secret for path in SECRETS)


def test_secrets_are_never_in_any_get(admin_client, stored_secrets):
    urls = [URL, URL + "/defaults", URL + "/storage-template-options", "/api/server/config",
            "/api/server/features", "/api/api-keys"]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        for secret in SECRETS.values():
            assert secret not in response.content.decode(), url
    config = admin_client.get(URL).json()
    for path in SECRETS:
        assert get_path(config, path) == ""


def test_put_response_never_contains_secrets(admin_client, stored_secrets):
    config = set_path(admin_client.get(URL).json(), "oauth.clientSecret", "a-brand-new-secret")
    response = put(admin_client, config)
    assert response.status_code == 200
    assert "a-brand-new-secret" not in response.content.decode()
    assert get_config().oauth.clientSecret == "a-brand-new-secret"
    change = SettingChange.objects.get(path="oauth.clientSecret", source="api")
    assert "a-brand-new-secret" not in json.dumps([change.old_value, change.new_value])


def test_blank_secrets_keep_the_stored_ones(admin_client, stored_secrets):
    config = set_path(admin_client.get(URL).json(), "trash.days", 3)
    assert put(admin_client, config).status_code == 200
    for path, secret in SECRETS.items():
        assert get_config().get(path) == secret


# --- Access -----------------------------------------------------------------------------------------

ADMIN_ENDPOINTS = [("get", URL), ("put", URL), ("get", URL + "/defaults"), ("get", URL + "/storage-template-options")]


def call(client, method, url, **headers):
    if method == "put":
        return client.put(url, json.dumps({"trash": {"days": 8}}), content_type=JSON, **headers)
    return getattr(client, method)(url, **headers)


@pytest.mark.parametrize("method, url", ADMIN_ENDPOINTS)
def test_admin_endpoints_401_for_anonymous_and_unknown_credentials(method, url):
    for headers in ({}, {"HTTP_X_API_KEY": "not-a-key"}, {"HTTP_AUTHORIZATION": "Bearer not-a-session"}):
        response = call(Client(), method, url, **headers)
        assert response.status_code == 401, headers
        assert response.json()["statusCode"] == 401
    assert get_config().trash.days == 30


@pytest.mark.parametrize("method, url", ADMIN_ENDPOINTS)
def test_admin_endpoints_403_for_non_admins_by_session_or_api_key(method, url, user, user_client):
    _, secret = ApiKey.issue(user, "user key")
    for client, headers in ((user_client, {}), (Client(), {"HTTP_X_API_KEY": secret})):
        response = call(client, method, url, **headers)
        assert response.status_code == 403
        assert response.json() == {"message": "Forbidden", "statusCode": 403, "error": "Forbidden"}
    assert get_config().trash.days == 30


@pytest.mark.parametrize("method, url", ADMIN_ENDPOINTS)
def test_admin_endpoints_200_for_admins_by_session_or_api_key(method, url, admin_user, admin_client):
    _, secret = ApiKey.issue(admin_user, "admin key")
    assert call(admin_client, method, url).status_code == 200
    assert call(Client(), method, url, HTTP_X_API_KEY=secret).status_code == 200


def test_a_deactivated_admins_key_stops_working(admin_user):
    _, secret = ApiKey.issue(admin_user, "admin key")
    admin_user.is_active = False
    admin_user.save()
    assert Client().get(URL, HTTP_X_API_KEY=secret).status_code == 401


def test_session_put_needs_the_csrf_token_but_header_authentication_does_not(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert put(client, {"trash": {"days": 8}}).status_code == 403
    assert get_config().trash.days == 30

    client.get("/login/")
    response = put(client, {"trash": {"days": 8}}, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200
    assert get_config().trash.days == 8

    _, secret = ApiKey.issue(admin_user, "tool")
    assert put(Client(enforce_csrf_checks=True), {"trash": {"days": 9}}, HTTP_X_API_KEY=secret).status_code == 200
    assert get_config().trash.days == 9

