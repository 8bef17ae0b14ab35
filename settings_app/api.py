"""Immich-compatible JSON API for the system config (`/api/system-config*`, administrators only) and the
public server information derived from it (`/api/server/*`). Reading and saving go through
settings_app.services, the same code path as the dashboard."""


from django.contrib.auth import get_user_model
from django.http import HttpResponse
from ninja import Body, Header, Router, Schema

from api_app.auth import ADMIN, admin, signed_in
from api_app.errors import ApiError, field_error, validation_failed
from media_app.services import ffmpeg
from media_app.storage_template import DATE_TOKENS, OTHER_TOKENS, PRESETS

from . import config_file, version_check
from .services import (
    config_versions,
    conflict_message,
    defaults,
    get_config,
    locked_paths,
    refresh_config,
    save_config,
)

router = Router(tags=["System config", "Server"])

# --- System config ----------------------------------------------------------------------------------


def _shape_errors(body: dict, template: dict, prefix: tuple[str, ...] = ()) -> list[dict]:
    """Sections (objects in the defaults) given as something else than an object. Unknown names are
    ignored, as Immich's schema strips them; leaf values are checked by the settings service."""
    errors = []
    for name, value in body.items():
        expected = template.get(name)
        if not isinstance(expected, dict):
            continue
        if isinstance(value, dict):
            errors += _shape_errors(value, expected, (*prefix, name))
        else:
            errors.append(field_error([*prefix, name], f"Expected an object (the {'.'.join((*prefix, name))} "
                                                       "section), got " + type(value).__name__ + "."))
    return errors


def _refusal(result) -> ApiError:
    if result.conflict:
        return ApiError(409, result.conflict)
    errors = [field_error(path, message) for path, messages in result.errors.items() for message in messages]
    if result.refused:
        return ApiError(400, result.refused, errors=errors)
    locked = [path for path in result.errors if path in locked_paths()]
    if locked:
        return validation_failed(
            errors,
            message=f"Cannot change {', '.join(locked)}: set by the config file (SETTINGS_CONFIG_FILE).",
        )
    return validation_failed(errors)


# The ETag is every category's version (beyond Immich): PUT with If-Match refuses an edit of a config that
# changed since the client's GET, naming what changed; without If-Match the last write wins, as Immich.
def _etag(versions: dict[str, int]) -> str:
    return '"' + "-".join(str(version) for version in versions.values()) + '"'


def _seen_versions(if_match: str) -> dict[str, int]:
    current = config_versions()
    parts = if_match.strip().removeprefix("W/").strip('"').split("-")
    if len(parts) != len(current) or not all(part.isdigit() for part in parts):
        raise ApiError(400, "If-Match must be the ETag that GET /api/system-config returned (or *).")
    return dict(zip(current, map(int, parts), strict=True))


def _config_response(response) -> dict:
    """The config with its ETag; versions first, then the config re-checked against the database (not the
    per-process cache), so the body is never older than the ETag it is sent with."""
    response["ETag"] = _etag(config_versions())
    return refresh_config().as_dict()


@router.get("/system-config", auth=ADMIN, url_name="api-system-config", summary="getConfig")
def get_system_config(request, response: HttpResponse):
    """The effective config in Immich's nested shape, secrets blank; the ETag names its version."""
    return _config_response(response)


@router.put("/system-config", auth=ADMIN, url_name="api-system-config", summary="updateConfig")
def update_system_config(request, response: HttpResponse, body: dict = Body(...),
                         if_match: str | None = Header(None, alias="If-Match")):
    """The config (Immich clients send all of it; sections left out keep their values, unknown keys are
    ignored); all-or-nothing, 400 with every bad key; a blank secret keeps the stored one, so GET -> edit ->
    PUT round-trips. Values are validated by the settings registry (settings_app.services), not here.
    Turning off every login method is refused. With If-Match, a config changed since is refused (409)."""
    if errors := _shape_errors(body, defaults().as_dict()):
        raise validation_failed(errors)
    expected = None
    if if_match and if_match.strip() != "*":
        expected = _seen_versions(if_match)
        if expected != config_versions():
            raise ApiError(409, conflict_message(expected))
    result = save_config(body, user=request.user, source="api", expected_versions=expected,
                         keep_a_login_method=True)
    if not result.ok:
        raise _refusal(result)
    return _config_response(response)


@router.get("/system-config/defaults", auth=ADMIN, url_name="api-system-config-defaults", summary="getConfigDefaults")
def system_config_defaults(request):
    return defaults().as_dict()


# Luxon's token letters -> Immich's option groups (M is month, m minute; S is fractions of a second).
_DATE_OPTION_GROUPS = {"y": "yearOptions", "M": "monthOptions", "W": "weekOptions", "d": "dayOptions",
                       "h": "hourOptions", "H": "hourOptions", "m": "minuteOptions", "s": "secondOptions",
                       "S": "secondOptions"}


@router.get("/system-config/storage-template-options", auth=ADMIN, url_name="api-storage-template-options",
            summary="getStorageTemplateOptions")
def storage_template_options(request):
    options = {group: [] for group in ("dayOptions", "monthOptions", "yearOptions", "hourOptions",
                                       "minuteOptions", "secondOptions", "weekOptions")}
    for token in DATE_TOKENS:
        options[_DATE_OPTION_GROUPS[token[0]]].append(token)
    return {**options, "presetOptions": list(PRESETS), "otherOptions": list(OTHER_TOKENS)}


# --- Server information (public, as Immich's) ---------------------------------------------------------


class ServerConfigDto(Schema):
    loginPageMessage: str
    trashDays: int
    userDeleteDelay: int
    oauthButtonText: str
    isInitialized: bool
    isOnboarded: bool
    externalDomain: str
    publicUsers: bool
    mapDarkStyleUrl: str
    mapLightStyleUrl: str
    maintenanceMode: bool
    minFaces: int


class ServerFeaturesDto(Schema):
    smartSearch: bool
    facialRecognition: bool
    duplicateDetection: bool
    map: bool
    reverseGeocoding: bool
    importFaces: bool
    sidecar: bool
    search: bool
    trash: bool
    oauth: bool
    oauthAutoLaunch: bool
    ocr: bool
    passwordLogin: bool
    configFile: bool
    email: bool
    realtimeTranscoding: bool


class ServerPingResponse(Schema):
    res: str


class ServerVersionResponseDto(Schema):
    major: int
    minor: int
    patch: int
    prerelease: int | None


@router.get("/server/config", response=ServerConfigDto, url_name="api-server-config", summary="getServerConfig")
def server_config(request):
    config = get_config()
    initialized = get_user_model().objects.filter(is_admin=True, is_active=True).exists()
    return {
        "loginPageMessage": config.server.loginPageMessage,
        "trashDays": config.trash.days,
        "userDeleteDelay": config.user.deleteDelay,
        "oauthButtonText": config.oauth.buttonText,
        "isInitialized": initialized,
        # No onboarding wizard here: the first administrator is created ready to use.
        "isOnboarded": initialized,
        "externalDomain": config.server.externalDomain,
        "publicUsers": config.server.publicUsers,
        "mapDarkStyleUrl": config.map.darkStyle,
        "mapLightStyleUrl": config.map.lightStyle,
        "maintenanceMode": False,
        "minFaces": config.machineLearning.facialRecognition.minFaces,
    }


def server_features_of(config) -> dict:
    """Immich's feature flags (server.service getFeatures) from a config."""
    from notifications_app.services.verification import email_available  # the SMTP check lives there

    ml = config.machineLearning
    smart_search = ml.enabled and ml.clip.enabled
    return {
        "smartSearch": smart_search,
        "facialRecognition": ml.enabled and ml.facialRecognition.enabled,
        "duplicateDetection": smart_search and ml.duplicateDetection.enabled,
        "map": config.map.enabled,
        "reverseGeocoding": config.reverseGeocoding.enabled,
        "importFaces": config.get("metadata.faces.import"),  # `import` is a Python keyword
        "sidecar": True,
        "search": True,
        "trash": config.trash.enabled,
        "oauth": config.oauth.enabled,
        "oauthAutoLaunch": config.oauth.autoLaunch,
        "ocr": ml.enabled and ml.ocr.enabled,
        "passwordLogin": config.passwordLogin.enabled,
        "configFile": config_file.in_use(),
        "email": email_available(config),
        "realtimeTranscoding": config.ffmpeg.realtime.enabled,
    }


@router.get("/server/features", response=ServerFeaturesDto, url_name="api-server-features",
            summary="getServerFeatures")
def server_features(request):
    return server_features_of(get_config())


@router.get("/server/ping", response=ServerPingResponse, url_name="api-server-ping", summary="pingServer")
def server_ping(request):
    return {"res": "pong"}


@router.get("/server/theme", url_name="api-server-theme", summary="getTheme")
def server_theme(request):
    """Public, as Immich's: the Theme settings' custom CSS."""
    return {"customCss": get_config().theme.customCss}


class ServerAboutResponseDto(Schema):
    version: str
    versionUrl: str
    licensed: bool
    repository: str = None  # optional, never null (as in media_app.api's AssetBulkUploadCheckResult)
    ffmpeg: str = None


@router.get("/server/about", auth=signed_in("server.about"), response=ServerAboutResponseDto,
            url_name="api-server-about", summary="getAboutInfo", exclude_none=True)
def server_about(request):
    """The running version and the ffmpeg it uses (no repository or release page to link: versionUrl is the
    server's own version endpoint)."""
    return {"version": f"v{version_check.running_version()}", "versionUrl": "/api/server/version",
            "licensed": False, "repository": "photoserver", "ffmpeg": ffmpeg.version()}


@router.get("/server/license", auth=admin("serverLicense.read"), url_name="api-server-license",
            summary="getServerLicense")
def server_license(request):
    """No license here (nothing to buy): Immich's answer for a server without one."""
    raise ApiError(404, "License not found")


@router.get("/server/version", response=ServerVersionResponseDto, url_name="api-server-version",
            summary="getServerVersion")
def server_version(request):
    return version_check.running_version().as_immich()


@router.get("/server/version-check", auth=ADMIN, url_name="api-server-version-check", summary="getVersionCheck")
def server_version_check(request):
    """The stored result of the last version check (VersionCheckStateResponseDto)."""
    return version_check.check_state_response()


@router.get("/server/version-history", auth=ADMIN, url_name="api-server-version-history",
            summary="getServerVersionHistory")
def server_version_history(request):
    return version_check.history_response()
