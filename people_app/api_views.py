"""Immich's people and faces endpoints as plain JSON views over people_app.services.people (to be ported
onto the API layer): GET/PUT /api/people, GET/PUT /api/people/{id}, POST /api/people/{id}/merge,
GET /api/people/{id}/thumbnail, GET /api/people/{id}/statistics, GET /api/faces?id=<assetId>."""

import uuid

from django.http import FileResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from media_app.services.thumbnails import absolute
from users_app.api import BadRequest, field_error, json_object_body, validation_failed
from users_app.decorators import api_error, api_login_required

from .services import people

NOT_FOUND = {"error": "Not Found"}


def _int(request, name: str, default: int, low: int, high: int) -> int:
    value = request.GET.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise people.PeopleError(name, f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def _refused(error: people.PeopleError) -> JsonResponse:
    return validation_failed([field_error([error.field], error.message)])


@api_login_required
@require_http_methods(["GET", "PUT"])
def people_collection(request):
    try:
        if request.method == "GET":
            with_hidden = request.GET.get("withHidden", "false")
            if with_hidden not in ("true", "false"):
                raise people.PeopleError("withHidden", "withHidden must be true or false.")
            return JsonResponse(people.list_people(request.user, with_hidden=with_hidden == "true",
                                                   page=_int(request, "page", 1, 1, 10**6),
                                                   size=_int(request, "size", 500, 1, 1000)))
        body = json_object_body(request)
        items = body.get("people")
        if not isinstance(items, list):
            raise people.PeopleError("people", "people must be a list of {id, …changes}.")
        results = []
        for item in items:  # Immich's PUT /people: one result per person, BulkIdResponseDto
            person_id = item.get("id") if isinstance(item, dict) else None
            try:
                people.update_person(request.user, person_id, {k: v for k, v in item.items() if k != "id"})
                results.append({"id": str(person_id), "success": True})
            except people.PersonNotFound:
                results.append({"id": str(person_id), "success": False, "error": "not_found"})
            except people.PeopleError as error:
                results.append({"id": str(person_id), "success": False, "error": "unknown",
                                "errorMessage": error.message})
        return JsonResponse(results, safe=False)
    except people.PeopleError as error:
        return _refused(error)
    except BadRequest as bad:
        return bad.response


def _person_or_404(request, person_id):
    try:
        return people.get_person(request.user, person_id)
    except people.PersonNotFound:
        return None


@api_login_required
@require_http_methods(["GET", "PUT"])
def person_detail(request, person_id):
    if _person_or_404(request, person_id) is None:
        return api_error("Person not found", 404, **NOT_FOUND)
    if request.method == "GET":
        return JsonResponse(people.person_dto(people.get_person(request.user, person_id)))
    try:
        person = people.update_person(request.user, person_id, json_object_body(request))
    except people.PeopleError as error:
        return _refused(error)
    except BadRequest as bad:
        return bad.response
    return JsonResponse(people.person_dto(person))


@api_login_required
@require_POST
def person_merge(request, person_id):
    if _person_or_404(request, person_id) is None:
        return api_error("Person not found", 404, **NOT_FOUND)
    try:
        return JsonResponse(people.merge_people(request.user, person_id, json_object_body(request).get("ids")),
                            safe=False)
    except people.PeopleError as error:
        return _refused(error)
    except BadRequest as bad:
        return bad.response


@api_login_required
@require_GET
def person_statistics(request, person_id):
    if _person_or_404(request, person_id) is None:
        return api_error("Person not found", 404, **NOT_FOUND)
    return JsonResponse(people.statistics(request.user, person_id))


@api_login_required
@require_GET
def person_thumbnail(request, person_id):
    person = _person_or_404(request, person_id)
    if person is None:
        return api_error("Person not found", 404, **NOT_FOUND)
    if not person.thumbnail_path or not absolute(person.thumbnail_path).is_file():
        return api_error("This person has no thumbnail yet", 404, **NOT_FOUND)
    response = FileResponse(open(absolute(person.thumbnail_path), "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@api_login_required
@require_GET
def faces(request):
    asset_id = request.GET.get("id", "")
    try:
        uuid.UUID(asset_id)
    except ValueError:
        return validation_failed([field_error(["id"], "id must be the UUID of an asset.")])
    return JsonResponse([people.face_dto(face) for face in people.faces_of_asset(request.user, asset_id)],
                        safe=False)
