"""SETTINGS_CONFIG_FILE: a JSON or YAML file in Immich's config shape. Keys it sets override the database
and are locked in the dashboard and API; keys it leaves out stay editable. An invalid file stops start-up
with one line per bad key."""

from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .registry import KEYS_BY_PATH

_locked: dict[str, object] = {}


class ConfigFileError(ImproperlyConfigured):
    def __init__(self, path: str, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"The settings config file {path} is invalid:\n{lines}")


def flatten(nested: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}; a known key path stops the descent (its value may be a dict-free list)."""
    flat = {}
    for name, value in nested.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and path not in KEYS_BY_PATH:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def parse(path: str) -> dict:
    """Read and validate the file; return the cleaned values by key path."""
    from .services import validate_values

    try:
        document = yaml.safe_load(Path(path).read_text())  # YAML is a superset of JSON
    except OSError as error:
        raise ConfigFileError(path, [f"cannot be read: {error.strerror}"])
    except yaml.YAMLError as error:
        raise ConfigFileError(path, [f"is neither valid JSON nor YAML: {error}"])
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigFileError(path, ["must contain a mapping of settings sections (e.g. {\"trash\": {...}})"])
    flat = flatten(document)
    problems = [f"{key}: unknown key" for key in flat if key not in KEYS_BY_PATH]
    known = {key: value for key, value in flat.items() if key in KEYS_BY_PATH}
    cleaned, errors = validate_values(known, base={})
    problems += [f"{key}: {message}" for key, messages in errors.items() for message in messages]
    if problems:
        raise ConfigFileError(path, problems)
    return {key: cleaned[key] for key in known}


def load_from_settings() -> None:
    """Called at start-up; tests call it again after changing settings.SETTINGS_CONFIG_FILE."""
    from .services import clear_config_cache

    global _locked
    _locked = parse(settings.SETTINGS_CONFIG_FILE) if settings.SETTINGS_CONFIG_FILE else {}
    clear_config_cache()


def locked_values() -> dict:
    return _locked


def in_use() -> bool:
    return bool(settings.SETTINGS_CONFIG_FILE)
