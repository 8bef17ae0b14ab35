"""What users do with people (the People pages and Immich's /api/people and /api/faces), as functions
returning Immich-shaped dicts (@immich/sdk PersonResponseDto, PeopleResponseDto, AssetFaceResponseDto,
BulkIdResponseDto, PersonStatisticsResponseDto). Views only parse and render."""

import uuid
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from settings_app.services import get_config

from ..models import Face, Person
from . import face_index, thumbnails
from .recognition import remove_empty_people

MAX_NAME_LENGTH = 200


class PeopleError(Exception):
    """Bad input; `field` names what is wrong (Immich's validation error path)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


class PersonNotFound(Exception):
    pass


@dataclass
class PersonRow:
    person: Person
    asset_count: int


def _people(owner):
    """The owner's people with their photo count (non-trashed photos)."""
    return Person.objects.filter(owner=owner).annotate(
        asset_count=Count("faces__asset", filter=Q(faces__asset__deleted_at__isnull=True), distinct=True))


def visible_people(owner, *, with_hidden: bool = False, config=None):
    """People shown to the owner: named people, and unnamed ones with at least min faces faces (Immich's
    minimumFaceCount, applied at once when the setting changes); hidden ones only when asked."""
    min_faces = (config or get_config()).machineLearning.facialRecognition.minFaces
    people = _people(owner).annotate(face_count=Count("faces", distinct=True)).filter(
        ~Q(name="") | Q(face_count__gte=min_faces)).filter(asset_count__gt=0)
    if not with_hidden:
        people = people.filter(is_hidden=False)
    return people.order_by("is_hidden", "-is_favorite", "-asset_count", "name", "created_at")


def person_dto(person: Person) -> dict:
    return {
        "id": str(person.pk),
        "name": person.name,
        "birthDate": person.birth_date.isoformat() if person.birth_date else None,
        "thumbnailPath": person.thumbnail_path,
        "isHidden": person.is_hidden,
        "isFavorite": person.is_favorite,
        "updatedAt": person.updated_at.isoformat(),
    }


def list_people(owner, *, with_hidden: bool = False, page: int = 1, size: int = 500) -> dict:
    """GET /api/people: PeopleResponseDto."""
    shown = visible_people(owner, with_hidden=True)
    total, hidden = shown.count(), shown.filter(is_hidden=True).count()
    people = shown if with_hidden else shown.filter(is_hidden=False)
    start = (page - 1) * size
    chunk = list(people[start:start + size + 1])
    return {"people": [person_dto(p) for p in chunk[:size]], "total": total, "hidden": hidden,
            "hasNextPage": len(chunk) > size}


def get_person(owner, person_id) -> Person:
    try:
        person_id = uuid.UUID(str(person_id))
    except ValueError:
        raise PersonNotFound(f"Person {person_id} not found")
    person = Person.objects.filter(owner=owner, pk=person_id).first()
    if person is None:
        raise PersonNotFound(f"Person {person_id} not found")
    return person


def statistics(owner, person_id) -> dict:
    """GET /api/people/{id}/statistics: the number of (non-trashed) photos the person is in."""
    person = get_person(owner, person_id)
    return {"assets": person.faces.filter(asset__deleted_at__isnull=True).values("asset").distinct().count()}


def parse_birth_date(value) -> date | None:
    if value in (None, ""):
        return None
    try:
        birth = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        birth = None
    if birth is None:
        raise PeopleError("birthDate", f"birthDate must be a date as YYYY-MM-DD or null, not “{value}”.")
    if birth > timezone.localdate():
        raise PeopleError("birthDate", "birthDate cannot be in the future.")
    return birth


def update_person(owner, person_id, changes: dict) -> Person:
    """PUT /api/people/{id} (PersonUpdateDto): name, birthDate, isHidden, isFavorite, featureFaceAssetId.
    Every field is checked before anything is stored; another face chosen queues a new thumbnail."""
    person = get_person(owner, person_id)
    fields, new_face = {}, None
    if "name" in changes:
        name = changes["name"]
        if not isinstance(name, str) or len(name.strip()) > MAX_NAME_LENGTH:
            raise PeopleError("name", f"name must be text of at most {MAX_NAME_LENGTH} characters.")
        fields["name"] = name.strip()
    if "birthDate" in changes:
        fields["birth_date"] = parse_birth_date(changes["birthDate"])
    for key, column in (("isHidden", "is_hidden"), ("isFavorite", "is_favorite")):
        if key in changes:
            if not isinstance(changes[key], bool):
                raise PeopleError(key, f"{key} must be true or false.")
            fields[column] = changes[key]
    if changes.get("featureFaceAssetId") is not None:
        new_face = person.faces.filter(asset_id=_uuid(changes["featureFaceAssetId"], "featureFaceAssetId")).first()
        if new_face is None:
            raise PeopleError("featureFaceAssetId", "That photo has no face of this person.")
        fields["face"] = new_face
    for name, value in fields.items():
        setattr(person, name, value)
    if fields:
        person.save()
        if "birth_date" in fields:
            face_index.bump(owner.pk)
    if new_face is not None:
        thumbnails.queue_thumbnail(person.pk)
    return person


def _uuid(value, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise PeopleError(field, f"{field} must be a UUID, not “{value}”.")


@transaction.atomic
def merge_people(owner, person_id, ids) -> list[dict]:
    """POST /api/people/{id}/merge {ids}: the faces of the others move to this person, who keeps their name
    (or takes the first merged name when they had none); the others are deleted. BulkIdResponseDto[]."""
    if not isinstance(ids, list) or not ids:
        raise PeopleError("ids", "ids must be a non-empty list of person ids.")
    target = get_person(owner, person_id)
    results = []
    for raw in ids:
        try:
            other_id = _uuid(raw, "ids")
        except PeopleError:
            results.append({"id": str(raw), "success": False, "error": "not_found"})
            continue
        if other_id == str(target.pk):
            results.append({"id": other_id, "success": False, "error": "duplicate"})
            continue
        other = Person.objects.filter(owner=owner, pk=other_id).first()
        if other is None:
            results.append({"id": other_id, "success": False, "error": "not_found"})
            continue
        other.faces.update(person=target)
        if not target.name and other.name:
            target.name = other.name
            target.save(update_fields=["name", "updated_at"])
        other.delete()
        results.append({"id": other_id, "success": True})
    face_index.bump(owner.pk)
    return results


def face_dto(face: Face) -> dict:
    return {
        "id": str(face.pk),
        "imageWidth": face.image_width, "imageHeight": face.image_height,
        "boundingBoxX1": face.x1, "boundingBoxY1": face.y1, "boundingBoxX2": face.x2, "boundingBoxY2": face.y2,
        "person": person_dto(face.person) if face.person else None,
        "sourceType": face.source,
    }


def faces_of_asset(owner, asset_id) -> list[Face]:
    """GET /api/faces?id=<assetId>: the faces of one of the owner's photos."""
    return list(Face.objects.filter(asset_id=asset_id, asset__owner=owner).select_related("person")
                .order_by("x1", "y1"))


@transaction.atomic
def reassign_face(owner, face_id, person_id=None, *, new_name: str | None = None) -> Face:
    """Put a face on another person (or a new one named `new_name`), or take it off (both None). A person
    already in that photo cannot get a second face of it."""
    face = Face.objects.select_related("asset").filter(pk=face_id, asset__owner=owner).first()
    if face is None:
        raise PersonNotFound(f"Face {face_id} not found")
    previous = face.person
    if new_name is not None:
        if not new_name.strip() or len(new_name.strip()) > MAX_NAME_LENGTH:
            raise PeopleError("name", f"The new person's name must be 1 to {MAX_NAME_LENGTH} characters.")
        person = Person.objects.create(owner=owner, name=new_name.strip(), face=face)
        thumbnails.queue_thumbnail(person.pk)
    elif person_id:
        person = get_person(owner, person_id)
        if person.faces.filter(asset=face.asset).exclude(pk=face.pk).exists():
            raise PeopleError("personId", f"{person.name or 'That person'} already has a face in this photo.")
    else:
        person = None
    face.person = person
    face.save(update_fields=["person", "updated_at"])
    if previous is not None and previous.face_id == face.pk and previous.faces.exists():
        thumbnails.queue_thumbnail(previous.pk)  # their picture was this face
    remove_empty_people(Person.objects.filter(owner=owner))
    face_index.bump(owner.pk, assigned={str(face.pk): str(person.pk) if person else None})
    return face


def people_for_page(owner, *, with_hidden: bool) -> list[PersonRow]:
    return [PersonRow(p, p.asset_count) for p in visible_people(owner, with_hidden=with_hidden)]
