"""Smart search with metadata filters applied as masks over each process's cached columns: the results
equal the ORM-filtered reference ranked by cosine distance, and the cached columns follow every change to
a filtered column, however it is written (save(), queryset update()), while other changes keep them."""

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from media_app.models import Asset, AssetType
from people_app.models import Face, Person
from search_app.models import AssetSearchInfo, SearchIndexState, SmartSearch
from search_app.services import index, search

from .conftest import MODEL

pytestmark = pytest.mark.django_db
DIM = 16
CITIES = ["Oslo", "oslo", "Bergen", "Zürich", ""]
MAKES = ["Canon", "NIKON", "canon", ""]


@pytest.fixture
def library(user):
    """60 assets of varied metadata, some trashed, a few with people or OCR text, each with an embedding."""
    rng = np.random.default_rng(7)
    people = [Person.objects.create(owner=user, name=name) for name in ("Ada", "Bo")]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assets = []
    for number in range(60):
        asset = Asset.objects.create(
            owner=user, type=AssetType.VIDEO if number % 4 == 0 else AssetType.IMAGE,
            original_path=f"/photos/{number}.jpg", original_filename=f"{'IMG' if number % 2 else 'dsc'}_{number}.JPG",
            checksum=f"{number:040d}", city=CITIES[number % 5], country="Norway" if number % 3 else "Schweiz",
            make=MAKES[number % 4], model="EOS R" if number % 4 in (0, 2) else "Z6",
            taken_at=None if number % 7 == 0 else start + timedelta(days=number),
            deleted_at=start if number % 11 == 0 else None)
        vector = rng.normal(size=DIM).astype(np.float32)
        vector /= np.linalg.norm(vector)
        SmartSearch.objects.create(asset=asset, model_name=MODEL, embedding=SmartSearch.pack(vector))
        if number % 5 == 1:
            Face.objects.create(asset=asset, person=people[0], x1=0, y1=0, x2=1, y2=1, image_width=10, image_height=10)
        if number % 10 == 1:
            Face.objects.create(asset=asset, person=people[1], x1=0, y1=0, x2=1, y2=1, image_width=10, image_height=10)
        if number % 6 == 0:
            AssetSearchInfo.objects.create(asset=asset, ocr_text=f"Exit {number} Harbour")
        assets.append(asset)
    index.bump(user.pk)
    return assets, people


def query(seed=3) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def reference(user, filters: search.Filters, vector) -> list[str]:
    """The ORM's filtered assets ranked by cosine distance, computed here from their stored vectors."""
    ids = {str(pk) for pk in search.filtered(user, filters).values_list("id", flat=True)}
    rows = SmartSearch.objects.filter(asset_id__in=ids, model_name=MODEL)
    distance = {str(row.asset_id): 1.0 - float(row.vector() @ vector) for row in rows}
    return sorted(distance, key=distance.get)


def ranked_ids(user, filters: search.Filters, vector, **kwargs) -> list[str]:
    return [asset_id for asset_id, _ in search.rank(user, MODEL, vector, filters, limit=kwargs.pop("limit", 100),
                                                    **kwargs)]


def filter_cases(people):
    ada, bo = people
    return [
        search.Filters(),
        search.Filters(type="VIDEO"),
        search.Filters(type="IMAGE"),
        search.Filters(original_file_name="img"),
        search.Filters(original_file_name="_1"),
        search.Filters(original_file_name="4.jpg"),
        search.Filters(original_file_name="no such name"),
        search.Filters(city="OSLO"),
        search.Filters(city="zürich"),
        search.Filters(country="norway", make="canon"),
        search.Filters(model="eos r", state="nowhere"),
        search.Filters(taken_after=datetime(2024, 1, 20, tzinfo=UTC)),
        search.Filters(taken_before=datetime(2024, 1, 20, 12, tzinfo=UTC)),
        search.Filters(taken_after=datetime(2024, 1, 10, tzinfo=UTC), taken_before=datetime(2024, 2, 1, tzinfo=UTC),
                       type="IMAGE"),
        search.Filters(taken_after=datetime(2024, 1, 31)),  # naive: read in the default time zone, as the ORM does
        search.Filters(person_ids=[ada.pk]),
        search.Filters(person_ids=[ada.pk, bo.pk], type="IMAGE"),
        search.Filters(ocr="harbour exit"),
        search.Filters(ocr="harbour", city="oslo"),
    ]


def test_filtered_results_equal_the_orm_filtered_reference(user, library):
    _, people = library
    for seed, filters in enumerate(filter_cases(people)):
        vector = query(seed)
        expected = reference(user, filters, vector)
        assert ranked_ids(user, filters, vector) == expected, filters
        assert ranked_ids(user, filters, vector, limit=3, offset=2) == expected[2:5], filters


def test_text_filters_ignore_case_beyond_ascii(user, library):
    """As the ORM's lookups do on PostgreSQL (SQLite's LIKE folds ASCII letters only)."""
    assets, _ = library
    Asset.objects.filter(pk=assets[1].pk).update(city="Tromsø", original_filename="ÆRØ.jpg")
    vector = query()
    assert ranked_ids(user, search.Filters(city="TROMSØ"), vector) == [str(assets[1].pk)]
    assert ranked_ids(user, search.Filters(original_file_name="ærø"), vector) == [str(assets[1].pk)]


def test_an_unknown_type_is_refused_naming_the_field(user, library):
    with pytest.raises(search.SearchError) as refused:
        search.rank(user, MODEL, query(), search.Filters(type="AUDIO"), limit=10)
    assert refused.value.field == "type"


def cached_columns(user) -> index.AssetColumns:
    return index.owner_index(user.pk, MODEL, columns=True).columns


@pytest.mark.parametrize("change", ["update", "save"])
def test_the_cached_columns_follow_a_change_of_type_trash_name_place_and_date(user, library, change):
    assets, _ = library
    asset = next(a for a in assets if a.type == AssetType.IMAGE and a.deleted_at is None and a.taken_at)
    vector = np.asarray(SmartSearch.objects.get(asset=asset).vector())  # the asset is its own nearest
    edits = [
        ({"type": AssetType.VIDEO}, search.Filters(type="VIDEO")),
        ({"original_filename": "Renamed-Holiday.jpg"}, search.Filters(original_file_name="holiday")),
        ({"city": "Tromsø"}, search.Filters(city="TROMSø")),
        ({"make": "Fujifilm", "model": "X100"}, search.Filters(make="fujifilm", model="x100")),
        ({"taken_at": datetime(1999, 12, 31, tzinfo=UTC)},
         search.Filters(taken_before=datetime(2000, 1, 1, tzinfo=UTC))),
    ]
    for values, filters in edits:
        assert ranked_ids(user, filters, vector, limit=1) != [str(asset.pk)], values
        if change == "update":
            Asset.objects.filter(pk=asset.pk).update(**values)
        else:
            for name, value in values.items():
                setattr(asset, name, value)
            asset.save()
        assert ranked_ids(user, filters, vector, limit=1) == [str(asset.pk)], values
        assert ranked_ids(user, filters, vector) == reference(user, filters, vector)
    trashed_at = datetime(2024, 6, 1, tzinfo=UTC)
    Asset.objects.filter(pk=asset.pk).update(deleted_at=trashed_at)
    assert str(asset.pk) not in ranked_ids(user, search.Filters(), vector)
    Asset.objects.filter(pk=asset.pk).update(deleted_at=None)
    assert ranked_ids(user, search.Filters(), vector, limit=1) == [str(asset.pk)]


def test_a_change_search_does_not_filter_on_keeps_the_cached_columns(user, library):
    assets, _ = library
    columns = cached_columns(user)
    version = SearchIndexState.objects.get(owner=user).columns_version
    Asset.objects.filter(pk=assets[1].pk).update(thumbnail_path="thumbs/1.webp", is_favorite=True)
    assets[2].description = "a caption"
    assets[2].save()  # every column written, the filtered ones unchanged
    assert SearchIndexState.objects.get(owner=user).columns_version == version
    assert cached_columns(user) is columns
    Asset.objects.filter(pk=assets[1].pk).update(country="Sverige")
    assert SearchIndexState.objects.get(owner=user).columns_version == version + 1
    assert cached_columns(user) is not columns


def test_another_owners_change_keeps_the_cached_columns(user, library, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "pw-other-123", name="Other")
    SearchIndexState.objects.create(owner=other)
    theirs = Asset.objects.create(owner=other, type=AssetType.IMAGE, original_path="/o.jpg", original_filename="o.jpg",
                                  checksum=uuid.uuid4().hex[:40])
    columns = cached_columns(user)
    Asset.objects.filter(pk=theirs.pk).update(city="Oslo")
    assert cached_columns(user) is columns
    assert SearchIndexState.objects.get(owner=other).columns_version == 1
