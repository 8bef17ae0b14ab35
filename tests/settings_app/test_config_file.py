"""SETTINGS_CONFIG_FILE: keys in the file override the database and are locked; a bad file stops start-up
with one line per bad key."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from settings_app import config_file
from settings_app.services import get_config, locked_paths, save_config, save_values

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_file_keys_override_the_database_and_lock_only_those_keys(use_config_file, admin_user):
    save_values({"trash.days": 12, "trash.enabled": False}, user=admin_user)
    use_config_file({"trash": {"days": 60}})
    config = get_config()
    assert config.trash.days == 60  # the file wins over the database
    assert config.trash.enabled is False  # a key the file does not set stays the database's
    assert locked_paths() == {"trash.days"}

    refused = save_values({"trash.days": 5}, user=admin_user)
    assert refused.errors == {
        "trash.days": ["Set by the config file (SETTINGS_CONFIG_FILE); it cannot be changed here."]
    }
    assert save_values({"trash.enabled": True}, user=admin_user).ok  # unlocked key still editable
    assert get_config().trash.days == 60


@pytest.mark.django_db
def test_yaml_files_work_too(use_config_file):
    use_config_file("image:\n  thumbnail:\n    size: 400\n    format: jpeg\n", name="config.yaml")
    assert (get_config().image.thumbnail.size, get_config().image.thumbnail.format) == (400, "jpeg")


@pytest.mark.django_db
def test_api_shaped_save_of_an_unchanged_locked_key_is_accepted(use_config_file, admin_user):
    use_config_file({"trash": {"days": 60}})
    full = get_config().as_dict()
    full["user"]["deleteDelay"] = 9
    assert save_config(full, user=admin_user).ok  # clients send the whole config back, locked keys included


def test_every_bad_key_is_listed(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({
        "trash": {"days": -1, "colour": "red"},
        "image": {"thumbnail": {"format": "gif"}},
        "backup": {"database": {"cronExpression": "every day"}},
        "job": {"thumbnailGeneration": {"concurrency": "lots"}},
    }))
    with pytest.raises(config_file.ConfigFileError) as raised:
        config_file.parse(str(path))
    problems = raised.value.problems
    assert "trash.colour: unknown key" in problems
    assert any(p.startswith("trash.days: Must be a whole number from 0 to 36500") for p in problems)
    assert any(p.startswith("image.thumbnail.format: “gif” is not allowed") for p in problems)
    assert any(p.startswith("backup.database.cronExpression: Invalid cron expression") for p in problems)
    assert any(p.startswith("job.thumbnailGeneration.concurrency: Must be a whole number") for p in problems)
    assert len(problems) == 5


def test_an_invalid_file_stops_start_up_with_the_reasons(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("trash:\n  days: lots\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**__import__("os").environ, "SETTINGS_CONFIG_FILE": str(path)},
    )
    assert result.returncode != 0
    assert f"The settings config file {path} is invalid" in result.stderr
    assert "trash.days: Must be a whole number from 0 to 36500 days." in result.stderr


def test_unreadable_and_malformed_files_are_reported(tmp_path):
    with pytest.raises(config_file.ConfigFileError, match="cannot be read"):
        config_file.parse(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"trash": {"days": 3,,}')
    with pytest.raises(config_file.ConfigFileError, match="neither valid JSON nor YAML"):
        config_file.parse(str(broken))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(config_file.ConfigFileError, match="must contain a mapping"):
        config_file.parse(str(listed))
