"""The public /api/server/* endpoints Immich clients call before logging in, derived from the settings."""

import json
import tomllib
from pathlib import Path

import pytest
from django.test import Client

from settings_app.services import save_values

pytestmark = pytest.mark.django_db

JSON = "application/json"


def test_server_config_is_public_and_shows_the_defaults(admin_user):
    response = Client().get("/api/server/config")
    assert response.status_code == 200
    assert response.json() == {
        "loginPageMessage": "",
        "trashDays": 30,
        "userDeleteDelay": 7,
        "oauthButtonText": "Login with OAuth",
        "isInitialized": True,
        "isOnboarded": True,
        "externalDomain": "",
        "publicUsers": True,
        "mapDarkStyleUrl": "https://tiles.immich.cloud/v1/style/dark.json",
        "mapLightStyleUrl": "https://tiles.immich.cloud/v1/style/light.json",
        "maintenanceMode": False,
        "minFaces": 3,
    }


def test_server_config_is_not_initialized_without_an_administrator(user):
    body = Client().get("/api/server/config").json()
    assert body["isInitialized"] is False
    assert body["isOnboarded"] is False


def test_server_config_reflects_settings_saved_through_the_api(admin_client):
    config = admin_client.get("/api/system-config").json()
    config["server"].update(loginPageMessage="<b>Welcome</b> & hello", externalDomain="https://photos.example.com/x",
                            publicUsers=False)
    config["trash"]["days"] = 14
    config["user"]["deleteDelay"] = 3
    config["oauth"]["buttonText"] = "Sign in with Authelia"
    config["map"].update(lightStyle="https://maps.example.com/light.json", darkStyle="https://maps.example.com/dark.json")
    config["machineLearning"]["facialRecognition"]["minFaces"] = 5
    assert admin_client.put("/api/system-config", json.dumps(config), content_type=JSON).status_code == 200

    body = Client().get("/api/server/config").json()

    assert body["loginPageMessage"] == "<b>Welcome</b> & hello"  # JSON text; the client decides how to show it
    assert body["externalDomain"] == "https://photos.example.com"  # normalised to the origin, as Immich does
    assert body["publicUsers"] is False
    assert body["trashDays"] == 14
    assert body["userDeleteDelay"] == 3
    assert body["oauthButtonText"] == "Sign in with Authelia"
    assert body["mapLightStyleUrl"] == "https://maps.example.com/light.json"
    assert body["mapDarkStyleUrl"] == "https://maps.example.com/dark.json"
    assert body["minFaces"] == 5


def test_features_are_public_and_follow_the_defaults():
    response = Client().get("/api/server/features")
    assert response.status_code == 200
    assert response.json() == {
        "smartSearch": True,
        "facialRecognition": True,
        "duplicateDetection": True,
        "map": True,
        "reverseGeocoding": True,
        "importFaces": False,
        "sidecar": True,
        "search": True,
        "trash": True,
        "oauth": False,
        "oauthAutoLaunch": False,
        "ocr": True,
        "passwordLogin": True,
        "configFile": False,
        "email": False,
        "realtimeTranscoding": False,
    }


def test_features_follow_every_switch(admin_user):
    assert save_values({
        "map.enabled": False, "reverseGeocoding.enabled": False, "metadata.faces.import": True,
        "trash.enabled": False, "oauth.enabled": True, "oauth.issuerUrl": "https://idp.example.com",
        "oauth.autoLaunch": True, "passwordLogin.enabled": False, "notifications.smtp.enabled": False,
        "ffmpeg.realtime.enabled": True,
    }, user=admin_user).ok
    body = Client().get("/api/server/features").json()
    assert {name: body[name] for name in ("map", "reverseGeocoding", "importFaces", "trash", "oauth",
                                          "oauthAutoLaunch", "passwordLogin", "realtimeTranscoding")} == {
        "map": False, "reverseGeocoding": False, "importFaces": True, "trash": False, "oauth": True,
        "oauthAutoLaunch": True, "passwordLogin": False, "realtimeTranscoding": True,
    }


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"machineLearning.enabled": False}, (False, False, False)),
        ({"machineLearning.clip.enabled": False}, (False, True, False)),  # duplicates need CLIP embeddings
        ({"machineLearning.facialRecognition.enabled": False}, (True, False, True)),
        ({"machineLearning.duplicateDetection.enabled": False}, (True, True, False)),
    ],
)
def test_machine_learning_features_need_machine_learning_on(admin_user, values, expected):
    assert save_values(values, user=admin_user).ok
    body = Client().get("/api/server/features").json()
    assert (body["smartSearch"], body["facialRecognition"], body["duplicateDetection"]) == expected


def test_ping():
    response = Client().get("/api/server/ping")
    assert response.status_code == 200
    assert response.json() == {"res": "pong"}


def test_version_is_the_projects():
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    response = Client().get("/api/server/version")
    assert response.status_code == 200
    body = response.json()
    assert f"{body['major']}.{body['minor']}.{body['patch']}" == version


@pytest.mark.parametrize("url", ["/api/server/config", "/api/server/features", "/api/server/ping",
                                 "/api/server/version"])
def test_server_endpoints_are_read_only(url):
    for method in ("post", "put", "delete"):
        response = getattr(Client(), method)(url)
        assert response.status_code == 405
        assert response["Allow"] == "GET"
