"""Facial recognition: Immich's incremental clustering (immich.md 6.2), not textbook DBSCAN.

For each unassigned face: the k nearest faces of the same owner (k = min faces, the face itself
included) within max distance; a face with at least min faces neighbours is a core face. A non-core face
is sent to the back of the queue once (deferred), so that core faces are placed first. The face joins the
person of its nearest assigned neighbour (or of the nearest assigned face within max distance); only a
core face founds a new person. Beyond Immich: a person never gets two faces of one photo (Immich issue
#12921): the other faces of the same photo are not neighbours (they neither make a face core nor lead it to
a person), and a person who already has a face in this photo is skipped for the next candidate; a core
face that reaches nobody else founds a new person."""

import logging
from collections import deque
from dataclasses import dataclass

from django.db import transaction

from settings_app.services import get_config

from ..models import Face, Person
from . import face_index

log = logging.getLogger(__name__)

ASSIGNED, CREATED, DEFERRED, NOISE, UNASSIGNED, SKIPPED = (
    "assigned", "created", "deferred", "noise", "unassigned", "skipped")


@dataclass(frozen=True)
class Outcome:
    status: str
    face_id: str
    person_id: str | None = None
    reason: str = ""

    def describe(self) -> str:
        person = f" person {self.person_id}" if self.person_id else ""
        return f"face {self.face_id}: {self.status}{person}" + (f" ({self.reason})" if self.reason else "")


def _photo_date(asset):
    moment = asset.taken_at or asset.file_created_at
    return moment.date() if moment else None


def recognize_face(face_id, config=None) -> Outcome:
    """One FacialRecognition job. A DEFERRED outcome asks the caller to queue the face again at the end."""
    settings = (config or get_config()).machineLearning.facialRecognition
    face = Face.objects.select_related("asset").filter(pk=face_id).first()
    if face is None:
        return Outcome(SKIPPED, str(face_id), reason="the face no longer exists")
    if face.person_id:
        return Outcome(SKIPPED, str(face.pk), str(face.person_id), "already assigned")
    if face.source != Face.ML or face.embedding is None or not face.is_recognizable:
        return Outcome(SKIPPED, str(face.pk), reason="not a face the clustering uses")
    if face.asset.deleted_at is not None:
        return Outcome(SKIPPED, str(face.pk), reason="the photo is in the trash")
    owner_id = face.asset.owner_id
    neighbourhood = face_index.search(owner_id, face.model_name, face.vector, max_distance=settings.maxDistance,
                                      photo_date=_photo_date(face.asset), face_id=face.pk, asset_id=face.asset_id)
    matches = neighbourhood.nearest(settings.minFaces)
    if settings.minFaces > 1 and len(matches) <= 1:
        return Outcome(NOISE, str(face.pk), reason="no other face within max distance")
    is_core = len(matches) >= settings.minFaces
    if not is_core and not face.deferred:
        Face.objects.filter(pk=face.pk).update(deferred=True)
        return Outcome(DEFERRED, str(face.pk))
    # People who already have a face in this photo cannot be this face too.
    taken = {str(p) for p in Face.objects.filter(asset_id=face.asset_id, person__isnull=False)
             .exclude(pk=face.pk).values_list("person_id", flat=True)}
    person_id = next((p for p in map(neighbourhood.person_at, matches) if p and p not in taken), None)
    if person_id is None:
        person_id = neighbourhood.nearest_person(exclude=taken)
    if person_id is not None and not Person.objects.filter(pk=person_id, owner_id=owner_id).exists():
        # The person went since this process's matrix was current (a change that told no one): search again.
        face_index.forget_cache()
        return recognize_face(face_id, config)
    with transaction.atomic():
        created = False
        if person_id is None:
            if not is_core:
                return Outcome(UNASSIGNED, str(face.pk), reason="a border face near no person")
            person_id = str(Person.objects.create(owner_id=owner_id, face=face).pk)
            created = True
        Face.objects.filter(pk=face.pk).update(person_id=person_id)
        face_index.bump(owner_id, assigned={str(face.pk): person_id})
    return Outcome(CREATED if created else ASSIGNED, str(face.pk), person_id)


# --- Which faces a run covers, and resets ----------------------------------------------------------------


def unassigned_faces():
    """Faces the clustering may place (Immich: ML faces with personId IS NULL); exif and manual faces are
    never clustered."""
    return Face.objects.filter(source=Face.ML, person__isnull=True, embedding__isnull=False, is_recognizable=True,
                               asset__deleted_at__isnull=True)


def face_ids_to_recognize(force: bool | None) -> list[str]:
    """ALL (force) resets every cluster first; MISSING takes the unassigned faces."""
    if force:
        reset_clusters()
    return [str(pk) for pk in unassigned_faces().order_by("created_at", "id").values_list("id", flat=True)]


@transaction.atomic
def reset_clusters(owner=None, *, keep_named: bool = False) -> int:
    """Unassign ML faces and delete the people left without faces (Immich's Facial Recognition Reset).
    With keep_named, named people keep their faces: only unnamed clusters are dissolved. Returns how many
    faces were unassigned."""
    faces = Face.objects.filter(source=Face.ML, person__isnull=False)
    people = Person.objects.all()
    if owner is not None:
        faces, people = faces.filter(asset__owner=owner), people.filter(owner=owner)
    if keep_named:
        faces = faces.filter(person__name="")
    owners = set(faces.values_list("asset__owner_id", flat=True).distinct())
    count = Face.objects.filter(pk__in=list(faces.values_list("pk", flat=True))).update(person=None)
    Face.objects.filter(source=Face.ML, deferred=True, **({"asset__owner": owner} if owner else {})).update(
        deferred=False)
    remove_empty_people(people)
    for owner_id in owners:
        face_index.bump(owner_id)
    return count


def remove_empty_people(people=None) -> int:
    """Immich's PersonCleanup: people without any face go."""
    people = Person.objects.all() if people is None else people
    count, _ = people.filter(faces__isnull=True).delete()
    return count


def cluster_faces(face_ids, config=None) -> dict[str, int]:
    """Run the per-face steps in queue order within this process, deferred faces going to the back, exactly
    as the facialRecognition queue (fixed at one job at a time) runs them. For the benchmark, the
    management shell and tests that need a given processing order."""
    config = config or get_config()
    pending = deque(str(face_id) for face_id in face_ids)
    totals: dict[str, int] = {}
    while pending:
        face_id = pending.popleft()
        outcome = recognize_face(face_id, config)
        totals[outcome.status] = totals.get(outcome.status, 0) + 1
        if outcome.status == DEFERRED:
            pending.append(face_id)
    return totals
