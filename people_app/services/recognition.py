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
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import date

import numpy as np
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from media_app.models import Asset
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


def recognize_face(face_id, config=None) -> Outcome:
    """One FacialRecognition job. A DEFERRED outcome asks the caller to queue the face again at the end."""
    [outcome] = Clustering(config).run([face_id], requeue_deferred=False).outcomes
    return outcome


def cluster_faces(face_ids, config=None) -> dict[str, int]:
    """Facial Recognition over many faces in this process: the outcomes of one FacialRecognition job per
    face in queue order, deferred faces going to the back (the queue runs one job at a time), with the
    k-NN of all faces computed up front in chunked matrix products. Returns the count of each outcome."""
    return Clustering(config).run(face_ids).totals


# Neighbours kept per face of a run: enough for min faces plus some faces hidden from the query (same
# photo, trash, birth dates); a face whose list ends before an answer is searched in full.
NEIGHBOUR_LIMIT = 64
BATCH_MINIMUM = 16  # fewer faces are searched one by one (a matrix-vector product each)


@dataclass
class RunResult:
    outcomes: list[Outcome]
    totals: dict[str, int]
    created: list[str]  # new people, for their thumbnails


@dataclass
class _RunFace:
    face_id: str
    asset_id: str
    owner_id: object
    model_name: str
    person_id: str | None
    usable: bool  # an ML face with an embedding, big enough to recognise
    trashed: bool
    photo_date: date | None
    deferred: bool


class _OwnerState:
    """What the searches of one owner and model see while a run assigns people: the embedding matrix (fixed
    for the run), the live person of each face, and the rules that hide faces from a query."""

    def __init__(self, owner_id, model_name: str, people_by_asset: dict, max_distance: float) -> None:
        self.index = face_index.owner_index(owner_id, model_name)
        self.people_by_asset = people_by_asset  # asset id -> people with a face in it (all models and sources)
        self.max_distance = max_distance
        trashed = Asset.objects.filter(owner_id=owner_id, deleted_at__isnull=False).values_list("id", flat=True)
        trashed_codes = [self.index.asset_code[str(a)] for a in trashed if str(a) in self.index.asset_code]
        self.trashed = np.isin(self.index.asset_codes, trashed_codes)
        self.birth_dates = {str(p): born for p, born in Person.objects.filter(
            owner_id=owner_id, birth_date__isnull=False).values_list("id", "birth_date")}
        self.lists: face_index.NeighbourLists | None = None
        self.list_of_face: dict[str, int] = {}

    def prepare(self, face_ids: list[str], limit: int, progress) -> None:
        positions = [self.index.face_position[f] for f in face_ids if f in self.index.face_position]
        if len(positions) < BATCH_MINIMUM:  # a job of one face: its own search, nothing to share
            return
        self.list_of_face = {self.index.face_ids[p]: i for i, p in enumerate(positions)}
        self.lists = face_index.neighbour_lists(self.index, np.array(positions, np.int64), self.max_distance, limit,
                                                progress)

    def candidates(self, face: _RunFace, *, complete: bool) -> tuple[np.ndarray, bool]:
        """Positions of the faces this face's search may see within max distance, nearest first, and whether
        more may lie beyond them (a truncated list; complete=True searches the whole matrix instead)."""
        position = self.index.face_position.get(face.face_id)
        if position is None:  # not searchable (another embedding size): sees nobody
            return np.zeros(0, np.int64), False
        if complete or self.lists is None:
            positions, truncated = face_index.neighbours_of(self.index, position, self.max_distance), False
        else:
            row = self.list_of_face[face.face_id]
            positions, truncated = self.lists.positions[row], bool(self.lists.truncated[row])
        visible = ~self.trashed[positions]
        # two faces of one photo are two people: the other faces of the photo are no neighbours
        visible &= (self.index.asset_codes[positions] != self.index.asset_codes[position]) | (positions == position)
        born_later = [self.index.person_code[p] for p, born in self.birth_dates.items()
                      if face.photo_date and born > face.photo_date and p in self.index.person_code]
        if born_later:
            visible &= ~np.isin(self.index.person_codes[positions], born_later)
        return positions[visible], truncated

    def person_at(self, position: int) -> str | None:
        code = int(self.index.person_codes[position])
        return None if code == face_index.NO_PERSON else self.index.person_ids[code]


class Clustering:
    """Immich's per-face steps (module docstring) for a queue of faces, in memory; the people and
    assignments are written in one transaction at the end."""

    def __init__(self, config=None) -> None:
        self.settings = (config or get_config()).machineLearning.facialRecognition

    def run(self, face_ids, *, requeue_deferred: bool = True, progress=None) -> RunResult:
        """progress(percent), if given, hears how far the run got: the neighbour search takes the first 90 %."""
        self._progress, self._reported = progress, None
        face_ids = [str(face_id) for face_id in face_ids]
        try:
            return self._run(face_ids, requeue_deferred)
        except _StaleIndex:  # a person went since this process's matrix was current: search again
            face_index.forget_cache()
            return self._run(face_ids, requeue_deferred)
        except BaseException:  # the cached matrices hold assignments that were never written
            face_index.forget_cache()
            raise

    def _run(self, face_ids: list[str], requeue_deferred: bool) -> RunResult:
        faces = _load_run_faces(face_ids)
        states = self._owner_states(list(faces.values()))
        self.assigned: dict[str, str] = {}
        self.new_people: dict[str, tuple] = {}  # person id -> (owner id, face id)
        self.deferred: list[str] = []
        outcomes, totals = [], {}
        pending = deque(face_ids)
        while pending:
            self._report(0.9 + 0.1 * len(outcomes) / (len(outcomes) + len(pending)))
            face_id = pending.popleft()
            face = faces.get(face_id)
            outcome = self._step(face, states.get((face.owner_id, face.model_name)) if face else None, face_id)
            totals[outcome.status] = totals.get(outcome.status, 0) + 1
            outcomes.append(outcome)
            if outcome.status == DEFERRED and requeue_deferred:
                pending.append(face_id)
        self._save({face.owner_id for face in faces.values()})
        return RunResult(outcomes, totals, list(self.new_people))

    def _report(self, fraction: float) -> None:
        percent = int(100 * fraction)
        if self._progress and percent != self._reported:
            self._reported = percent
            self._progress(percent)

    def _owner_states(self, faces: list[_RunFace]) -> dict[tuple, _OwnerState]:
        queries: dict[tuple, list[str]] = {}
        for face in faces:
            if face.usable and not face.person_id and not face.trashed:
                queries.setdefault((face.owner_id, face.model_name), []).append(face.face_id)
        people_by_asset: dict[tuple, dict] = {}
        states = {}
        limit = max(NEIGHBOUR_LIMIT, 4 * self.settings.minFaces)
        total, done = sum(len(ids) for ids in queries.values()), 0
        for (owner_id, model_name), ids in queries.items():
            if owner_id not in people_by_asset:
                people_by_asset[owner_id] = _people_by_asset([f.asset_id for f in faces if f.owner_id == owner_id])
            state = _OwnerState(owner_id, model_name, people_by_asset[owner_id], self.settings.maxDistance)
            state.prepare(ids, limit, lambda count, done=done: self._report(0.9 * (done + count) / total))
            states[(owner_id, model_name)] = state
            done += len(ids)
        return states

    def _step(self, face: _RunFace | None, state: _OwnerState | None, face_id: str) -> Outcome:
        if face is None:
            return Outcome(SKIPPED, face_id, reason="the face no longer exists")
        if face.person_id:
            return Outcome(SKIPPED, face_id, face.person_id, "already assigned")
        if not face.usable:
            return Outcome(SKIPPED, face_id, reason="not a face the clustering uses")
        if face.trashed:
            return Outcome(SKIPPED, face_id, reason="the photo is in the trash")
        outcome = self._decide(face, state, complete=False)
        return self._decide(face, state, complete=True) if outcome is None else outcome

    def _decide(self, face: _RunFace, state: _OwnerState, *, complete: bool) -> Outcome | None:
        """The face's outcome, or None when its truncated neighbour list ended before an answer."""
        min_faces = self.settings.minFaces
        visible, truncated = state.candidates(face, complete=complete)
        matches = visible[:min_faces]
        if truncated and len(matches) < min_faces:
            return None
        if min_faces > 1 and len(matches) <= 1:
            return Outcome(NOISE, face.face_id, reason="no other face within max distance")
        is_core = len(matches) >= min_faces
        if not is_core and not face.deferred:
            face.deferred = True
            self.deferred.append(face.face_id)
            return Outcome(DEFERRED, face.face_id)
        # People who already have a face in this photo cannot be this face too; the first match with a
        # person, else the nearest face with a person within max distance.
        taken = state.people_by_asset.get(face.asset_id, set())
        person_id = next((p for p in map(state.person_at, visible) if p and p not in taken), None)
        if person_id is None and truncated:
            return None
        created = False
        if person_id is None:
            if not is_core:
                return Outcome(UNASSIGNED, face.face_id, reason="a border face near no person")
            person_id, created = str(uuid.uuid4()), True
            self.new_people[person_id] = (face.owner_id, face.face_id)
        face.person_id = person_id
        state.index.assign(face.face_id, person_id)
        state.people_by_asset.setdefault(face.asset_id, set()).add(person_id)
        self.assigned[face.face_id] = person_id
        return Outcome(CREATED if created else ASSIGNED, face.face_id, person_id)

    def _save(self, owners) -> None:
        existing = set(self.assigned.values()) - set(self.new_people)
        with transaction.atomic():
            found = {str(p) for p in Person.objects.filter(pk__in=existing).values_list("pk", flat=True)}
            if found != existing:
                raise _StaleIndex
            Person.objects.bulk_create([Person(id=person_id, owner_id=owner_id, face_id=face_id)
                                        for person_id, (owner_id, face_id) in self.new_people.items()])
            by_person: dict[str, list[str]] = {}
            for face_id, person_id in self.assigned.items():
                by_person.setdefault(person_id, []).append(face_id)
            for person_id, ids in by_person.items():
                _update_in_chunks(ids, person_id=person_id)
            _update_in_chunks(self.deferred, deferred=True)
            if self.assigned:  # what searches see changed (deferral does not)
                for owner_id in owners:
                    face_index.bump(owner_id, assigned=self.assigned)


class _StaleIndex(Exception):
    pass


IN_CHUNK = 5000  # ids per IN (...) list: within SQLite's bound on query parameters


def _update_in_chunks(face_ids: list[str], **values) -> None:
    for start in range(0, len(face_ids), IN_CHUNK):
        Face.objects.filter(pk__in=face_ids[start : start + IN_CHUNK]).update(**values)


def _photo_date(taken_at, file_created_at) -> date | None:
    moment = taken_at or file_created_at
    return moment.date() if moment else None


def _load_run_faces(face_ids: list[str]) -> dict[str, _RunFace]:
    faces = {}
    fields = ("id", "asset_id", "asset__owner_id", "model_name", "person_id", "source", "has_embedding",
              "is_recognizable", "asset__deleted_at", "asset__taken_at", "asset__file_created_at", "deferred")
    for start in range(0, len(face_ids), IN_CHUNK):
        rows = Face.objects.filter(pk__in=face_ids[start : start + IN_CHUNK]).annotate(
            has_embedding=ExpressionWrapper(Q(embedding__isnull=False), output_field=BooleanField()))
        for (face_id, asset_id, owner_id, model_name, person_id, source, has_embedding, recognizable, deleted_at,
             taken_at, file_created_at, deferred) in rows.values_list(*fields):
            faces[str(face_id)] = _RunFace(
                str(face_id), str(asset_id), owner_id, model_name, str(person_id) if person_id else None,
                source == Face.ML and has_embedding and recognizable, deleted_at is not None,
                _photo_date(taken_at, file_created_at), deferred)
    return faces


def _people_by_asset(asset_ids: list[str]) -> dict[str, set]:
    """The people with a face in each of these photos (any face: ML of any model, imported, manual)."""
    people: dict[str, set] = {}
    asset_ids = list(dict.fromkeys(asset_ids))
    for start in range(0, len(asset_ids), IN_CHUNK):
        rows = Face.objects.filter(asset_id__in=asset_ids[start : start + IN_CHUNK], person__isnull=False)
        for asset_id, person_id in rows.values_list("asset_id", "person_id"):
            people.setdefault(str(asset_id), set()).add(str(person_id))
    return people


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
