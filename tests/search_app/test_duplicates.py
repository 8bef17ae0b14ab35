"""Duplicate detection on CLIP embeddings of the generated model: near-identical images share a group at
the threshold and not above it; groups merge; GET /api/duplicates; keep / trash the rest."""

import pytest

from jobs_app.models import Job
from search_app.models import AssetSearchInfo, SmartSearch
from search_app.services import duplicates, embeddings
from settings_app.services import save_values

from .conftest import photo, run_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def near_copies(user, use_clip_ml, tmp_path):
    """A red photo, a copy with pixel noise only, a slightly darker red one and an orange one."""
    assets = {
        "red": photo(user, tmp_path, (230, 20, 20), name="red.png", size=(200, 150)),
        "red_copy": photo(user, tmp_path, (230, 20, 20), noise=12, seed=3, name="red-copy.png"),
        "orange": photo(user, tmp_path, (230, 120, 20), name="orange.png"),
        "dark_red": photo(user, tmp_path, (205, 40, 40), name="dark-red.png"),
    }
    for asset in assets.values():
        run_job("smartSearch", "SmartSearch", id=str(asset.pk))
    return assets


def distance(a, b) -> float:
    model = embeddings.serving_model()
    va = SmartSearch.objects.get(asset=a, model_name=model).vector()
    vb = SmartSearch.objects.get(asset=b, model_name=model).vector()
    return float(1 - va @ vb)


def group_of(asset):
    return AssetSearchInfo.objects.filter(asset=asset).values_list("duplicate_id", flat=True).first()


def test_images_within_max_distance_are_grouped_and_those_above_it_are_not(near_copies):
    red, copy, orange, dark_red = near_copies.values()
    assert distance(red, copy) < 0.002 < distance(red, dark_red) < 0.01 < distance(red, orange)
    outcome = run_job("duplicateDetection", "AssetDetectDuplicates", id=str(red.pk))  # default max distance 0.01
    assert "2 duplicate(s)" in outcome
    assert group_of(red) is not None and group_of(red) == group_of(copy) == group_of(dark_red)
    assert group_of(orange) is None
    assert AssetSearchInfo.objects.get(asset=red).duplicates_detected_at is not None
    assert run_job("duplicateDetection", "AssetDetectDuplicates", id=str(orange.pk)).endswith("no duplicates")


def test_a_lower_max_distance_leaves_the_farther_image_out(near_copies):
    red, copy, _, dark_red = near_copies.values()
    assert save_values({"machineLearning.duplicateDetection.maxDistance": 0.002}).ok
    assert "1 duplicate(s)" in run_job("duplicateDetection", "AssetDetectDuplicates", id=str(red.pk))
    assert group_of(red) == group_of(copy) and group_of(dark_red) is None
    assert run_job("duplicateDetection", "AssetDetectDuplicates", id=str(dark_red.pk)).endswith("no duplicates")


def test_groups_merge_into_the_assets_own_group(near_copies):
    red, copy, _, dark_red = near_copies.values()
    assert save_values({"machineLearning.duplicateDetection.maxDistance": 0.002}).ok
    run_job("duplicateDetection", "AssetDetectDuplicates", id=str(red.pk))
    first_group = group_of(red)
    assert save_values({"machineLearning.duplicateDetection.maxDistance": 0.01}).ok
    run_job("duplicateDetection", "AssetDetectDuplicates", id=str(dark_red.pk))
    assert group_of(dark_red) == group_of(red) == group_of(copy) == first_group


def test_the_api_lists_groups_and_the_review_keeps_one(near_copies, user, user_client):
    red, copy, _, _ = near_copies.values()
    run_job("duplicateDetection", "AssetDetectDuplicates", id=str(copy.pk))
    response = user_client.get("/api/duplicates")
    assert response.status_code == 200
    (group,) = response.json()
    assert {a["originalFileName"] for a in group["assets"]} == {"red.png", "red-copy.png", "dark-red.png"}
    assert group["assets"][0]["duplicateId"] == group["duplicateId"]
    assert group["suggestedKeepAssetIds"] == [str(red.pk)]  # the larger image
    result = duplicates.resolve(user, group["duplicateId"], [str(red.pk)])
    assert result == {"kept": 1, "trashed": 2, "deleted": 0}
    copy.refresh_from_db()
    assert copy.deleted_at is not None
    assert user_client.get("/api/duplicates").json() == []


def test_a_new_upload_is_checked_for_duplicates_after_its_embedding(near_copies):
    red = near_copies["red"]
    Job.objects.filter(queue="duplicateDetection").delete()
    run_job("smartSearch", "SmartSearch", id=str(red.pk), source="upload")
    (job,) = Job.objects.filter(queue="duplicateDetection", name="AssetDetectDuplicates")
    assert job.data == {"id": str(red.pk)}


def test_disabled_duplicate_detection_skips(near_copies):
    assert save_values({"machineLearning.duplicateDetection.enabled": False}).ok
    assert run_job("duplicateDetection", "AssetDetectDuplicates", id=str(near_copies["red"].pk)) == (
        "skipped: duplicate detection is disabled")

