"""`GET /api/system-config/defaults` against Immich v3's defaults, written by hand from Immich's config.ts
(tests/settings_app/immich_v3_defaults.json; not generated from the registry), so a missing or wrong key
fails here. The deliberate differences are listed below with their reasons."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

IMMICH_V3_DEFAULTS = Path(__file__).with_name("immich_v3_defaults.json")

# Keys this server has and Immich has not.
EXTRA = {
    "library.watch.usePolling": "watching network mounts (NFS, SMB), where file events do not arrive, needs polling",
}
# Immich's keys this server does not have yet.
EXPECTED_MISSING: dict[str, str] = {}
# Keys whose default may differ from Immich's.
MAY_DIFFER = {
    "machineLearning.facialRecognition.modelName": "the default is the face model bundled with this server",
    "machineLearning.urls": "`make run` starts this server's own ML service on 127.0.0.1:3003 (Immich's default "
                            "names its container, immich-machine-learning)",
}


def flatten(document: dict, prefix: str = "") -> dict:
    flat = {}
    for name, value in document.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def test_defaults_are_immich_v3s(admin_client):
    response = admin_client.get("/api/system-config/defaults")
    assert response.status_code == 200
    ours = flatten(response.json())
    immich = flatten(json.loads(IMMICH_V3_DEFAULTS.read_text()))

    assert set(ours) - set(immich) == set(EXTRA)
    assert set(immich) - set(ours) == set(EXPECTED_MISSING)
    wrong = {path: (ours[path], immich[path]) for path in set(ours) & set(immich)
             if path not in MAY_DIFFER and (ours[path], type(ours[path])) != (immich[path], type(immich[path]))}
    assert wrong == {}, "defaults that differ from Immich v3's (ours, Immich's)"


def test_the_differences_listed_are_real_keys():
    immich = flatten(json.loads(IMMICH_V3_DEFAULTS.read_text()))
    assert set(EXPECTED_MISSING) <= set(immich) and set(MAY_DIFFER) <= set(immich)
    assert not set(EXTRA) & set(immich)
