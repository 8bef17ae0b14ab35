"""Searching an owner's assets: metadata filters (Immich's searchAssets / MetadataSearchDto) and smart
search (searchSmart: the query text embedded by the CLIP textual model, assets ranked by cosine distance).
Both return one page of assets and whether another page follows."""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db.models import Q

from media_app.models import Asset, AssetType
from media_app.services.timeline import asset_response
from settings_app.services import get_config

from ..models import AssetSearchInfo
from . import embeddings, index

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
TYPES = {"IMAGE": AssetType.IMAGE, "VIDEO": AssetType.VIDEO}
EXACT_FILTERS = ("city", "state", "country", "make", "model")  # matched whole, case-insensitively


class SearchError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass
class Filters:
    original_file_name: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    make: str = ""
    model: str = ""
    taken_after: datetime | None = None
    taken_before: datetime | None = None
    type: str = ""  # IMAGE or VIDEO
    person_ids: list = field(default_factory=list)
    ocr: str = ""

    def any(self) -> bool:
        return any(value for value in vars(self).values())


@dataclass
class Results:
    assets: list[Asset]
    page: int
    has_next: bool
    distances: dict = field(default_factory=dict)  # asset id -> cosine distance (smart search)


def _asset_type(filters: Filters) -> str:
    if filters.type not in TYPES:
        raise SearchError("type", f"type must be one of {', '.join(TYPES)}, not {filters.type!r}.")
    return TYPES[filters.type]


def filtered(owner, filters: Filters):
    assets = Asset.objects.filter(owner=owner, deleted_at__isnull=True)
    if filters.original_file_name:
        assets = assets.filter(original_filename__icontains=filters.original_file_name)
    for name in EXACT_FILTERS:
        if value := getattr(filters, name):
            assets = assets.filter(**{f"{name}__iexact": value})
    if filters.taken_after:
        assets = assets.filter(taken_at__gte=filters.taken_after)
    if filters.taken_before:
        assets = assets.filter(taken_at__lte=filters.taken_before)
    if filters.type:
        assets = assets.filter(type=_asset_type(filters))
    for person_id in filters.person_ids:  # every person must be in the photo
        assets = assets.filter(faces__person_id=person_id)
    if filters.person_ids:  # a person with several faces in one photo would list it twice
        assets = assets.distinct()
    if filters.ocr:
        words = filters.ocr.split()
        assets = assets.filter(*[Q(search_info__ocr_text__icontains=word) for word in words])
    return assets


def matching_rows(owner, owner_index: index.OwnerIndex, filters: Filters) -> np.ndarray:
    """filtered() as a boolean mask over the rows of the owner's index (which holds its columns): those
    columns are tested in numpy; people and OCR text, kept in other tables, by one query listing the ids."""
    columns = owner_index.columns
    keep = columns.live.copy()
    if filters.original_file_name:
        keep &= columns.text["original_filename"].containing(filters.original_file_name)
    for name in EXACT_FILTERS:
        if value := getattr(filters, name):
            keep &= columns.text[name].equal(value)
    if filters.taken_after:
        keep &= columns.taken_at >= index.as_utc64(filters.taken_after)
    if filters.taken_before:
        keep &= columns.taken_at <= index.as_utc64(filters.taken_before)
    if filters.type:
        keep &= columns.type == _asset_type(filters)
    if filters.person_ids or filters.ocr:
        related = filtered(owner, Filters(person_ids=filters.person_ids, ocr=filters.ocr))
        keep &= owner_index.rows_of(related.values_list("id", flat=True))
    return keep


def metadata_search(owner, filters: Filters, page: int = 1, size: int = DEFAULT_PAGE_SIZE) -> Results:
    assets = filtered(owner, filters).order_by("-local_taken_at", "-created_at", "-id")
    start = (page - 1) * size
    found = list(assets[start:start + size + 1])
    return Results(found[:size], page, len(found) > size)


def smart_search(owner, query: str, filters: Filters, page: int = 1, size: int = DEFAULT_PAGE_SIZE,
                 config=None) -> Results:
    """Assets nearest the query's embedding (the serving model's, see embeddings.serving_model)."""
    config = config or get_config()
    if reason := embeddings.disabled_reason(config):
        raise SearchError("query", f"Smart search is not available: {reason}.")
    if not query.strip():
        raise SearchError("query", "Enter something to search for.")
    model_name = embeddings.serving_model(config)
    vector = embeddings.request_embedding(text=query, model_name=model_name, config=config)
    found = rank(owner, model_name, vector, filters, limit=size + 1, offset=(page - 1) * size)
    by_id = {str(pk): asset for pk, asset in Asset.objects.in_bulk([a for a, _ in found[:size]]).items()}
    assets = [by_id[asset_id] for asset_id, _ in found[:size] if asset_id in by_id]
    return Results(assets, page, len(found) > size, dict(found[:size]))


def rank(owner, model_name: str, vector, filters: Filters, *, limit: int, offset: int = 0) -> list:
    """(asset id, distance) of the owner's live assets matching the filters, nearest `vector` first."""
    owner_index = index.owner_index(owner.pk, model_name, columns=True)
    return index.nearest(owner_index, vector, limit=limit, offset=offset,
                         keep=matching_rows(owner, owner_index, filters))


def asset_dto(asset: Asset, duplicate_id=None) -> dict:
    """Immich's AssetResponseDto, with the duplicate group the asset is in."""
    return {**asset_response(asset), "duplicateId": str(duplicate_id) if duplicate_id else None}


def response_dto(results: Results) -> dict:
    """Immich's SearchResponseDto."""
    groups = dict(AssetSearchInfo.objects.filter(asset__in=results.assets, duplicate_id__isnull=False)
                  .values_list("asset_id", "duplicate_id"))
    items = [asset_dto(asset, groups.get(asset.pk)) for asset in results.assets]
    return {
        "albums": {"total": 0, "count": 0, "items": [], "facets": []},
        "assets": {"total": len(items), "count": len(items), "items": items, "facets": [],
                   "nextPage": str(results.page + 1) if results.has_next else None, "nextCursor": None},
    }
