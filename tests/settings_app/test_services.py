"""The save/read service every writer goes through."""

from dataclasses import replace

import pytest

from settings_app.models import ImageSettings, SettingChange
from settings_app.registry import CATEGORIES, KEYS_BY_PATH
from settings_app.services import clear_config_cache, get_config, reset_values, revert_change, save_config, save_values

pytestmark = pytest.mark.django_db


def test_every_key_starts_at_its_default():
    config = get_config()
    for path, key in KEYS_BY_PATH.items():
        assert config.get(path) == key.default, path


def test_only_values_differing_from_the_default_are_stored(admin_user):
    assert save_values({"image.thumbnail.size": 300}, user=admin_user).ok
    row = ImageSettings.objects.get()
    assert row.image_thumbnail_size == 300
    assert row.image_preview_size is None  # untouched keys keep following the default

    assert save_values({"image.thumbnail.size": 250}, user=admin_user).ok
    assert ImageSettings.objects.get().image_thumbnail_size is None  # back to default = nothing stored


def test_a_changed_default_reaches_keys_never_touched(monkeypatch, admin_user):
    save_values({"trash.enabled": False}, user=admin_user)  # the category has a row, trash.days untouched
    monkeypatch.setitem(KEYS_BY_PATH, "trash.days", replace(KEYS_BY_PATH["trash.days"], default=45))
    clear_config_cache()
    assert get_config().trash.days == 45


def test_one_bad_value_stores_nothing(admin_user):
    result = save_values({"image.thumbnail.size": 400, "image.preview.quality": 101}, user=admin_user)
    assert not result.ok
    assert result.errors == {"image.preview.quality": ["Must be a whole number from 1 to 100."]}
    assert get_config().image.thumbnail.size == 250
    assert not SettingChange.objects.exists()


def test_all_or_nothing_across_categories(admin_user):
    result = save_config({"trash": {"days": 10}, "user": {"deleteDelay": 0}}, user=admin_user)
    assert result.errors == {"user.deleteDelay": ["Must be a whole number from 1 to 36500 days."]}
    assert get_config().trash.days == 30


def test_history_records_who_and_old_new_values_and_revert_restores(admin_user):
    save_values({"trash.days": 12}, user=admin_user)
    change = SettingChange.objects.get()
    assert (change.path, change.old_value, change.new_value, change.changed_by) == ("trash.days", 30, 12, admin_user)
    assert revert_change(change, user=admin_user).ok
    assert get_config().trash.days == 30
    assert SettingChange.objects.filter(source="revert").get().new_value == 30


def test_stale_version_is_refused_and_names_the_change(admin_user, other_admin):
    save_values({"image.thumbnail.quality": 70}, user=other_admin)
    result = save_values({"image.thumbnail.size": 500}, user=admin_user, expected_versions={"image": 0})
    assert not result.ok
    assert "second-admin@example.com" in result.conflict and "image.thumbnail.quality" in result.conflict
    assert get_config().image.thumbnail.size == 250


def test_secret_is_kept_when_submitted_empty_and_masked_in_history(admin_user):
    save_values({"oauth.clientSecret": "s3cret"}, user=admin_user)
    save_values({"oauth.clientSecret": "", "oauth.clientId": "abc"}, user=admin_user)
    assert get_config().oauth.clientSecret == "s3cret"
    assert get_config().as_dict()["oauth"]["clientSecret"] == ""
    assert "s3cret" not in str(list(SettingChange.objects.values_list("old_value", "new_value")))


def test_reset_restores_defaults(admin_user):
    save_values({"trash.days": 3, "trash.enabled": False}, user=admin_user)
    assert reset_values(["trash.days", "trash.enabled"], user=admin_user).ok
    assert (get_config().trash.days, get_config().trash.enabled) == (30, True)


def test_reruns_are_reported_for_keys_that_need_them(admin_user):
    result = save_values({"machineLearning.clip.modelName": "ViT-B-16__openai"}, user=admin_user)
    assert [(r.queue, r.force) for r in result.reruns] == [("smartSearch", True)]


def test_external_domain_is_reduced_to_its_origin(admin_user):
    save_values({"server.externalDomain": "https://photos.example.com/some/path"}, user=admin_user)
    assert get_config().server.externalDomain == "https://photos.example.com"


def test_registry_has_every_category_of_the_dashboard():
    assert [c.slug for c in CATEGORIES] == [
        "authentication", "backup", "image", "integrity-checks", "job", "external-library", "logging",
        "machine-learning",
        "location", "metadata", "nightly-tasks", "notifications", "server", "storage-template", "theme",
        "trash", "user-settings", "version-check", "video-transcoding",
    ]
