"""Immich-compatible JSON API for the system config (`/api/system-config*`, administrators only) and the
public server information derived from it (`/api/server/*`). Reading and saving go through
settings_app.services, the same code path as the dashboard."""


from django.contrib.auth import get_user_model
from django.http import JsonResponse

from media_app.storage_template import DATE_TOKENS, OTHER_TOKENS, PRESETS
from users_app.api import (
    BadRequest,
    api_methods,
    field_error,
    json_object_body,
    validation_failed,
)
from users_app.decorators import api_admin_required, api_error

from . import config_file, version_check
from .services import defaults, get_config, locked_paths, save_config

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


def _save_refused(result) -> JsonResponse:
    errors = [field_error(path, message) for path, messages in result.errors.items() for message in messages]
    locked = [path for path in result.errors if path in locked_paths()]
    if locked:
        return validation_failed(
            errors,
            message=f"Cannot change {', '.join(locked)}: set by the config file (SETTINGS_CONFIG_FILE).",
        )
    if result.conflict:  # not expected: the API sends no expected versions
        return api_error(result.conflict, 409, error="Conflict")
    return validation_failed(errors)


@api_methods("GET", "PUT")
@api_admin_required
def system_config(request):
    """GET: the effective config in Immich's nested shape, secrets blank. PUT: the config (Immich clients
    send all of it; sections left out keep their values, unknown keys are ignored); all-or-nothing, 400
    with every bad key; a blank secret keeps the stored one, so GET -> edit -> PUT round-trips."""
    if request.method == "GET":
        return JsonResponse(get_config().as_dict())
    try:
        body = json_object_body(request)
    except BadRequest as bad:
        return bad.response
    if errors := _shape_errors(body, defaults().as_dict()):
        return validation_failed(errors)
    result = save_config(body, user=request.user, source="api")
    if not result.ok:
        return _save_refused(result)
    return JsonResponse(get_config().as_dict())


@api_methods("GET")
@api_admin_required
def system_config_defaults(request):
    return JsonResponse(defaults().as_dict())


# Luxon's token letters -> Immich's option groups (M is month, m minute; S is fractions of a second).
_DATE_OPTION_GROUPS = {"y": "yearOptions", "M": "monthOptions", "W": "weekOptions", "d": "dayOptions",
                       "h": "hourOptions", "H": "hourOptions", "m": "minuteOptions", "s": "secondOptions",
                       "S": "secondOptions"}


@api_methods("GET")
@api_admin_required
def storage_template_options(request):
    options = {group: [] for group in ("dayOptions", "monthOptions", "yearOptions", "hourOptions",
                                       "minuteOptions", "secondOptions", "weekOptions")}
    for token in DATE_TOKENS:
        options[_DATE_OPTION_GROUPS[token[0]]].append(token)
    return JsonResponse({**options, "presetOptions": list(PRESETS), "otherOptions": list(OTHER_TOKENS)})


# --- Server information (public, as Immich's) ---------------------------------------------------------


@api_methods("GET")
def server_config(request):
    config = get_config()
    initialized = get_user_model().objects.filter(is_admin=True, is_active=True).exists()
    return JsonResponse({
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
    })


def server_features_of(config) -> dict:
    """Immich's feature flags (server.service getFeatures) from a config."""
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
        "ocr": False,  # this server has no OCR
        "passwordLogin": config.passwordLogin.enabled,
        "configFile": config_file.in_use(),
        "email": config.notifications.smtp.enabled,
        "realtimeTranscoding": config.ffmpeg.realtime.enabled,
    }


@api_methods("GET")
def server_features(request):
    return JsonResponse(server_features_of(get_config()))


@api_methods("GET")
def server_ping(request):
    return JsonResponse({"res": "pong"})


@api_methods("GET")
def server_theme(request):
    """Public, as Immich's: the Theme settings' custom CSS."""
    return JsonResponse({"customCss": get_config().theme.customCss})


@api_methods("GET")
def server_version(request):
    return JsonResponse(version_check.running_version().as_immich())


@api_methods("GET")
@api_admin_required
def server_version_check(request):
    """The stored result of the last version check (VersionCheckStateResponseDto)."""
    return JsonResponse(version_check.check_state_response())


@api_methods("GET")
@api_admin_required
def server_version_history(request):
    return JsonResponse(version_check.history_response(), safe=False)
