"""Sections and switch-dependent fields, declared in the registry (Category.groups, FieldGroup.switch,
Key.depends_on): which section a key lands in, what it depends on, and how the dashboard shows and saves a
field whose switch is off."""

import dataclasses
import html
import re

import pytest

from settings_app.kinds import Bool, Float
from settings_app.registry import CATEGORIES_BY_SLUG, KEYS_BY_PATH, Key
from settings_app.services import get_config, save_values
from tests.settings_app.test_dashboard import form_data, setting_html, text_of, url

ML = CATEGORIES_BY_SLUG["machine-learning"]
# The category as it was before its OCR keys existed: keys added later must find their section alone.
ML_BEFORE_OCR = dataclasses.replace(ML, keys=tuple(key for key in ML.keys
                                                  if not key.path.startswith("machineLearning.ocr.")))


def test_a_key_added_later_lands_in_its_section_and_depends_on_its_switch():
    """What machineLearning.ocr.* keys got when they were added, without any other edit."""
    ocr_keys = (Key("machineLearning.ocr.enabled", Bool(), True, "Enable OCR"),
                Key("machineLearning.ocr.minDetectionScore", Float(0.1, 1), 0.5, "Min detection score"))
    category = dataclasses.replace(ML_BEFORE_OCR, keys=ML_BEFORE_OCR.keys + ocr_keys)
    titles = [group.title for group, _ in category.grouped_keys()]
    assert titles == ["General", "Smart search", "Duplicate detection", "Facial recognition", "OCR"]
    assert category.group_of(ocr_keys[1]).title == "OCR"
    assert category.dependency_of(ocr_keys[1]).path == "machineLearning.ocr.enabled"
    assert category.dependency_of(ocr_keys[0]).path == "machineLearning.enabled"  # the group's `requires`
    values = {"machineLearning.enabled": False, "machineLearning.ocr.enabled": True}
    assert category.blocking_switch(ocr_keys[1], values).path == "machineLearning.enabled"


def test_sections_without_keys_are_left_out_and_exact_paths_keep_their_order():
    assert "OCR" not in [group.title for group, _ in ML_BEFORE_OCR.grouped_keys()]
    video = CATEGORIES_BY_SLUG["video-transcoding"]
    policy = dict((group.title, keys) for group, keys in video.grouped_keys())["Transcoding policy"]
    assert [key.path for key in policy][:2] == ["ffmpeg.transcode", "ffmpeg.acceptedVideoCodecs"]
    assert all(video.group_of(key) is not None for key in video.shown_keys)


def test_dependencies_chain_to_the_nearest_switch_that_is_off():
    auth = CATEGORIES_BY_SLUG["authentication"]
    mobile_uri = KEYS_BY_PATH["oauth.mobileRedirectUri"]
    assert auth.blocking_switch(mobile_uri, {"oauth.enabled": False, "oauth.mobileOverrideEnabled": True}).path \
        == "oauth.enabled"
    assert auth.blocking_switch(mobile_uri, {"oauth.enabled": True}).path == "oauth.mobileOverrideEnabled"
    assert auth.blocking_switch(mobile_uri, {"oauth.enabled": True, "oauth.mobileOverrideEnabled": True}) is None
    assert auth.blocking_switch(KEYS_BY_PATH["passwordLogin.enabled"], {}) is None


@pytest.mark.django_db
def test_a_field_whose_switch_is_off_is_disabled_with_the_reason(admin_client, htmx_headers):
    response = admin_client.get(url("location"), **htmx_headers)
    assert 'class="settings-section"' in text_of(response) and ">Map<" in text_of(response)
    style = html.unescape(setting_html(response, "map_light_style"))
    assert "disabled" not in style.split("<input")[1].split(">")[0]
    assert save_values({"map.enabled": False}).ok
    response = admin_client.get(url("location"), **htmx_headers)
    style = html.unescape(setting_html(response, "map_light_style"))
    control = style.split("<input")[1].split(">")[0]
    assert "disabled" in control and 'aria-describedby="blocked-map_light_style about-map_light_style"' in control
    words = " ".join(re.sub(r"<[^>]+>", "", style).split())
    assert "Disabled: turn on “Enable map features” to change this." in words


@pytest.mark.django_db
def test_saving_with_a_switch_off_keeps_the_disabled_fields_values(admin_client, htmx_headers):
    assert save_values({"machineLearning.duplicateDetection.maxDistance": 0.02}).ok
    data = form_data("machine-learning", {"machineLearning.enabled": False})
    assert "machine_learning_clip_enabled" not in data  # disabled: the browser does not send it
    assert "Settings saved" in text_of(admin_client.post(url("machine-learning"), data, **htmx_headers))
    ml = get_config().machineLearning
    assert ml.enabled is False and ml.clip.enabled is True and ml.duplicateDetection.maxDistance == 0.02
