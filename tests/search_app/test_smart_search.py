"""Smart search with a generated CLIP model on the real ML service: embedding jobs, ranking by text,
Immich's POST /api/search/smart, and a CLIP model change (old embeddings serve until the new ones are
complete, then go)."""

import pytest

from media_app.models import Asset
from search_app.models import SmartSearch
from search_app.services import embeddings, search
from settings_app.services import get_config, save_values

from .conftest import MODEL, SAME_SIZE_MODEL, WIDER_MODEL, photo, run_job

pytestmark = pytest.mark.django_db

COLOURS = {"red": (250, 10, 10), "green": (10, 250, 10), "blue": (10, 10, 250)}


@pytest.fixture
def colour_photos(user, use_clip_ml, tmp_path):
    return {name: photo(user, tmp_path, rgb, name=f"{name}.png") for name, rgb in COLOURS.items()}


def embed_all(assets) -> list[str]:
    return [run_job("smartSearch", "SmartSearch", id=str(asset.pk)) for asset in assets]


def test_a_text_query_ranks_the_matching_image_first(colour_photos, user, user_client):
    outcomes = embed_all(colour_photos.values())
    assert all(outcome.startswith("embedded ") for outcome in outcomes), outcomes
    row = SmartSearch.objects.get(asset=colour_photos["red"])
    assert row.model_name == MODEL and row.vector().shape == (512,)
    for word in COLOURS:
        results = search.smart_search(user, f"a photo of a {word} dog", search.Filters())
        assert results.assets[0] == colour_photos[word]
    response = user_client.post("/api/search/smart", {"query": "blue", "size": 2}, content_type="application/json")
    assert response.status_code == 200
    assets = response.json()["assets"]
    assert [item["originalFileName"] for item in assets["items"]][0] == "blue.png"
    assert assets["count"] == 2 and assets["nextPage"] == "2"
    second = user_client.post("/api/search/smart", {"query": "blue", "size": 2, "page": 2},
                              content_type="application/json").json()["assets"]
    assert second["count"] == 1 and second["nextPage"] is None


def test_smart_search_applies_metadata_filters_and_hides_the_trash(colour_photos, user):
    embed_all(colour_photos.values())
    only_green = search.smart_search(user, "red", search.Filters(original_file_name="green"))
    assert only_green.assets == [colour_photos["green"]]
    colour_photos["red"].deleted_at = colour_photos["red"].created_at
    colour_photos["red"].save()
    assert colour_photos["red"] not in search.smart_search(user, "red", search.Filters()).assets


def test_smart_search_refuses_an_empty_query_naming_the_field(user_client, use_clip_ml):
    response = user_client.post("/api/search/smart", {"query": " "}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == ["query"]


@pytest.mark.parametrize("new_model", [SAME_SIZE_MODEL, WIDER_MODEL])
def test_a_model_change_keeps_old_embeddings_serving_until_the_new_ones_are_complete(colour_photos, user, new_model):
    embed_all(colour_photos.values())
    assert save_values({"machineLearning.clip.modelName": new_model}).ok
    assert embeddings.serving_model() == MODEL
    red, green, blue = colour_photos.values()
    assert run_job("smartSearch", "SmartSearch", id=str(red.pk)).startswith(f"embedded red.png with {new_model}")
    # incomplete: the old model still answers queries, and its rows are all kept
    assert embeddings.serving_model() == MODEL
    assert SmartSearch.objects.filter(model_name=MODEL).count() == 3
    assert search.smart_search(user, "green", search.Filters()).assets[0] == green
    embed_all([green, blue])
    assert embeddings.serving_model() == new_model
    assert set(SmartSearch.objects.values_list("model_name", flat=True)) == {new_model}
    assert search.smart_search(user, "green", search.Filters()).assets[0] == green
    dimension = 768 if new_model == WIDER_MODEL else 512
    assert SmartSearch.objects.get(asset=green).vector().shape == (dimension,)


def test_a_job_that_embedded_with_the_old_model_is_skipped(colour_photos):
    red = colour_photos["red"]
    old_config = get_config()
    assert save_values({"machineLearning.clip.modelName": SAME_SIZE_MODEL}).ok
    with pytest.raises(embeddings.EmbeddingSkipped, match="changed from ViT-B-32__openai to ViT-B-16__openai"):
        embeddings.embed_asset(red.pk, old_config)
    assert not SmartSearch.objects.exists()


def test_smart_search_off_skips_the_job(colour_photos):
    assert save_values({"machineLearning.clip.enabled": False}).ok
    assert run_job("smartSearch", "SmartSearch", id=str(colour_photos["red"].pk)) == (
        "skipped: smart search is disabled")


def test_a_missing_model_fails_the_job_naming_model_and_folder(colour_photos, use_clip_ml):
    assert save_values({"machineLearning.clip.modelName": "RN50__openai"}).ok
    with pytest.raises(Exception, match="RN50__openai") as failure:
        run_job("smartSearch", "SmartSearch", id=str(colour_photos["red"].pk))
    assert str(use_clip_ml.model_cache / "clip" / "RN50__openai") in str(failure.value)
    info = colour_photos["red"].search_info
    info.refresh_from_db()
    assert "RN50__openai" in info.smart_search_error


def test_queue_all_missing_covers_assets_without_an_embedding_of_the_model(colour_photos):
    run_job("smartSearch", "SmartSearch", id=str(colour_photos["red"].pk))
    assert sorted(embeddings.asset_ids_to_embed(False)) == sorted(
        str(a.pk) for name, a in colour_photos.items() if name != "red")
    assert len(list(embeddings.asset_ids_to_embed(True))) == 3


def test_the_ml_status_names_a_missing_model_and_its_folder(colour_photos, use_clip_ml, admin_client):
    assert save_values({"machineLearning.clip.modelName": "RN50__openai"}).ok
    with pytest.raises(Exception, match="RN50__openai"):
        run_job("smartSearch", "SmartSearch", id=str(colour_photos["red"].pk))
    page = admin_client.get("/admin/machine-learning/search-status/").content.decode()
    assert "0 of 3 assets embedded with <code>RN50__openai</code>" in page
    assert str(use_clip_ml.model_cache / "clip" / "RN50__openai") in page


def test_the_ml_status_says_the_old_model_serves_during_a_change(colour_photos, admin_client):
    embed_all(colour_photos.values())
    assert save_values({"machineLearning.clip.modelName": SAME_SIZE_MODEL}).ok
    run_job("smartSearch", "SmartSearch", id=str(colour_photos["red"].pk))
    page = admin_client.get("/admin/machine-learning/search-status/").content.decode()
    assert "1 of 3 assets embedded with <code>ViT-B-16__openai</code>" in page
    assert "data-ml-migrating" in page and "<code>ViT-B-32__openai</code> until" in page


def test_smart_search_sees_a_filtered_column_changed_by_a_queryset_update(colour_photos, user):
    embed_all(colour_photos.values())
    assert search.smart_search(user, "green", search.Filters(city="oslo")).assets == []  # columns now cached
    Asset.objects.filter(pk__in=[colour_photos["green"].pk, colour_photos["blue"].pk]).update(city="Oslo")
    results = search.smart_search(user, "red", search.Filters(city="oslo"), size=1)
    assert results.assets == [colour_photos["blue"]] or results.assets == [colour_photos["green"]]
    assert results.has_next
    both = search.smart_search(user, "green", search.Filters(city="Oslo"), size=5)
    assert both.assets == [colour_photos["green"], colour_photos["blue"]] and not both.has_next
