"""Immich's people and faces endpoints, a ninja Router of the one API layer (api_app): GET/PUT /api/people,
GET/PUT /api/people/{id}, POST /api/people/{id}/merge, GET /api/people/{id}/thumbnail,
GET /api/people/{id}/statistics, GET /api/faces?id=<assetId>. Thin: people_app.services.people decides."""

from typing import Literal
from uuid import UUID

from django.http import FileResponse
from ninja import Body, Query, Router, Schema

from api_app.auth import SIGNED_IN
from api_app.errors import ApiError, field_error, validation_failed
from api_app.schemas import BulkIdResponseDto
from media_app.services.thumbnails import absolute

from .services import people

router = Router(auth=SIGNED_IN, tags=["People", "Faces"])


class PersonResponseDto(Schema):
    id: str
    name: str
    birthDate: str | None
    thumbnailPath: str
    isHidden: bool
    isFavorite: bool
    updatedAt: str


class PeopleResponseDto(Schema):
    people: list[PersonResponseDto]
    total: int
    hidden: int
    hasNextPage: bool


class PersonStatisticsResponseDto(Schema):
    assets: int


class AssetFaceResponseDto(Schema):
    id: str
    imageWidth: int
    imageHeight: int
    boundingBoxX1: int
    boundingBoxY1: int
    boundingBoxX2: int
    boundingBoxY2: int
    person: PersonResponseDto | None
    sourceType: Literal["machine-learning", "exif", "manual"]


def _refused(error: people.PeopleError) -> ApiError:
    return validation_failed([field_error([error.field], error.message)])


def _person(request, person_id: UUID):
    try:
        return people.get_person(request.user, person_id)
    except people.PersonNotFound:
        raise ApiError(404, "Person not found")


@router.get("/people", url_name="api-people", response=PeopleResponseDto, summary="getAllPeople")
def get_all_people(request, withHidden: bool = False, page: int = Query(1, ge=1, le=10**6),  # noqa: N803
                   size: int = Query(500, ge=1, le=1000)):
    return people.list_people(request.user, with_hidden=withHidden, page=page, size=size)


@router.put("/people", url_name="api-people", response=list[BulkIdResponseDto], summary="updatePeople",
            exclude_none=True)
def update_people(request, body: dict = Body(...)):
    """One result per person (Immich's BulkIdResponseDto list)."""
    items = body.get("people")
    if not isinstance(items, list):
        raise _refused(people.PeopleError("people", "people must be a list of {id, …changes}."))
    results = []
    for item in items:
        person_id = item.get("id") if isinstance(item, dict) else None
        try:
            people.update_person(request.user, person_id, {k: v for k, v in item.items() if k != "id"})
            results.append({"id": str(person_id), "success": True})
        except people.PersonNotFound:
            results.append({"id": str(person_id), "success": False, "error": "not_found"})
        except people.PeopleError as error:
            results.append({"id": str(person_id), "success": False, "error": "unknown",
                            "errorMessage": error.message})
    return results


@router.get("/people/{uuid:person_id}", url_name="api-person", response=PersonResponseDto, summary="getPerson")
def get_person(request, person_id: UUID):
    return people.person_dto(_person(request, person_id))


@router.put("/people/{uuid:person_id}", url_name="api-person", response=PersonResponseDto,
            summary="updatePerson")
def update_person(request, person_id: UUID, body: dict = Body(...)):
    _person(request, person_id)
    try:
        return people.person_dto(people.update_person(request.user, person_id, body))
    except people.PeopleError as error:
        raise _refused(error)


@router.post("/people/{uuid:person_id}/merge", url_name="api-person-merge", response=list[BulkIdResponseDto],
             summary="mergePerson", exclude_none=True)
def merge_person(request, person_id: UUID, body: dict = Body(...)):
    _person(request, person_id)
    try:
        return people.merge_people(request.user, person_id, body.get("ids"))
    except people.PeopleError as error:
        raise _refused(error)


@router.get("/people/{uuid:person_id}/statistics", url_name="api-person-statistics",
            response=PersonStatisticsResponseDto, summary="getPersonStatistics")
def person_statistics(request, person_id: UUID):
    _person(request, person_id)
    return people.statistics(request.user, person_id)


@router.get("/people/{uuid:person_id}/thumbnail", url_name="api-person-thumbnail", summary="getPersonThumbnail")
def person_thumbnail(request, person_id: UUID):
    person = _person(request, person_id)
    if not person.thumbnail_path or not absolute(person.thumbnail_path).is_file():
        raise ApiError(404, "This person has no thumbnail yet")
    response = FileResponse(open(absolute(person.thumbnail_path), "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@router.get("/faces", url_name="api-faces", response=list[AssetFaceResponseDto], summary="getFaces")
def get_faces(request, id: str = ""):  # noqa: A002  (Immich's query parameter name)
    try:
        UUID(id)
    except ValueError:
        raise validation_failed([field_error(["id"], "id must be the UUID of an asset.")])
    return [people.face_dto(face) for face in people.faces_of_asset(request.user, id)]
