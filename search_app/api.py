"""Immich's search and duplicates endpoints: POST /api/search/smart, POST /api/search/metadata and
GET /api/duplicates. Thin: search_app.services decide."""

from datetime import datetime
from uuid import UUID

from ninja import Body, Router, Schema

from albums_app.api import AlbumResponseDto
from api_app.auth import SIGNED_IN
from api_app.errors import ApiError, field_error, validation_failed
from media_app.api import AssetResponseDto
from ml_client.client import MachineLearningError, MachineLearningUnavailable

from .services import duplicates, search

router = Router(auth=SIGNED_IN, tags=["Search", "Duplicates"])


class SearchAssetItemDto(AssetResponseDto):
    duplicateId: str | None = None


class SearchFacetCountResponseDto(Schema):
    count: int
    value: str


class SearchFacetResponseDto(Schema):
    fieldName: str
    counts: list[SearchFacetCountResponseDto]


class SearchAssetResponseDto(Schema):
    total: int
    count: int
    items: list[SearchAssetItemDto]
    facets: list[SearchFacetResponseDto]
    nextPage: str | None
    nextCursor: str | None  # always null: paging is by page number here


class SearchAlbumResponseDto(Schema):
    """Always empty: this server's search finds assets (Immich's metadata search does too)."""
    total: int
    count: int
    items: list[AlbumResponseDto]
    facets: list[SearchFacetResponseDto]


class SearchResponseDto(Schema):
    albums: SearchAlbumResponseDto
    assets: SearchAssetResponseDto


class DuplicateResponseDto(Schema):
    duplicateId: str
    assets: list[SearchAssetItemDto]
    suggestedKeepAssetIds: list[str]


FILTER_FIELDS = {"originalFileName": "original_file_name", "city": "city", "state": "state", "country": "country",
                 "make": "make", "model": "model", "type": "type", "ocr": "ocr"}


def _refused(field: str, message: str) -> ApiError:
    return validation_failed([field_error([field], message)])


def _filters(body: dict) -> search.Filters:
    filters = search.Filters()
    for name, attribute in FILTER_FIELDS.items():
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise _refused(name, f"{name} must be a string.")
        setattr(filters, attribute, (value or "").strip())
    for name, attribute in (("takenAfter", "taken_after"), ("takenBefore", "taken_before")):
        if body.get(name) is not None:
            try:
                setattr(filters, attribute, datetime.fromisoformat(str(body[name]).replace("Z", "+00:00")))
            except ValueError:
                raise _refused(name, f"{name} must be an ISO 8601 date-time.")
    person_ids = body.get("personIds") or []
    try:
        filters.person_ids = [UUID(str(p)) for p in person_ids]
    except (ValueError, TypeError):
        raise _refused("personIds", "personIds must be a list of UUIDs.")
    return filters


def _paging(body: dict) -> tuple[int, int]:
    page, size = body.get("page", 1), body.get("size", search.DEFAULT_PAGE_SIZE)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise _refused("page", "page must be a whole number of at least 1.")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= search.MAX_PAGE_SIZE:
        raise _refused("size", f"size must be a whole number from 1 to {search.MAX_PAGE_SIZE}.")
    return page, size


@router.post("/search/metadata", url_name="api-search-metadata", response=SearchResponseDto, summary="searchAssets")
def search_metadata(request, body: dict = Body(...)):
    page, size = _paging(body)
    try:
        results = search.metadata_search(request.user, _filters(body), page, size)
    except search.SearchError as error:
        raise _refused(error.field, error.message)
    return search.response_dto(results)


@router.post("/search/smart", url_name="api-search-smart", response=SearchResponseDto, summary="searchSmart")
def search_smart(request, body: dict = Body(...)):
    page, size = _paging(body)
    query = body.get("query")
    if not isinstance(query, str):
        raise _refused("query", "query must be a string.")
    try:
        results = search.smart_search(request.user, query, _filters(body), page, size)
    except search.SearchError as error:
        raise _refused(error.field, error.message)
    except MachineLearningUnavailable as error:
        raise ApiError(503, f"Machine learning is not reachable: {error.reason}")
    except MachineLearningError as error:
        raise ApiError(500, str(error))
    return search.response_dto(results)


@router.get("/duplicates", url_name="api-duplicates", response=list[DuplicateResponseDto],
            summary="getAssetDuplicates")
def get_duplicates(request):
    """Immich's DuplicateResponseDto list."""
    return [{"duplicateId": str(group["duplicate_id"]),
             "assets": [search.asset_dto(asset, group["duplicate_id"]) for asset in group["assets"]],
             "suggestedKeepAssetIds": [str(duplicates.suggested_keep(group["assets"]).pk)]}
            for group in duplicates.groups(request.user)]
