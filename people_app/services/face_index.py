"""Vectorised nearest-neighbour search over one owner's face embeddings (Immich's `searchFaces`).

Each process keeps, per (owner, model), a float32 matrix of the owner's searchable embeddings (ML faces
big enough to recognise) with, per row, the face id, its asset and its person. A query is one
matrix-vector product (BLAS) plus a partial sort: ~10 ms at 100k faces of 512 dimensions, on SQLite and
PostgreSQL alike, with no Python loop over faces.

Staleness: every change to what the search sees bumps the owner's FaceIndexState.version (one UPDATE).
The process that made the change applies it to its own matrix when nobody else changed anything in
between (the recognition run assigns thousands of faces without reloading); any other process notices the
new version on its next query and reloads. Trashed assets and birth dates are checked per query (both
are small sets), so the trash and the person pages need not know about the index.

Memory: 2 KB per face at 512 dimensions (200 MB at 100k faces, per process that runs recognition). The
scale-out path is pgvector (docs/faces.md)."""

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from django.db import transaction
from django.db.models import F

from media_app.models import Asset

from ..models import Face, FaceIndexState, Person

NO_PERSON = -1


@dataclass
class OwnerIndex:
    version: int
    matrix: np.ndarray  # (n, d) float32, L2-normalised rows
    face_ids: list
    asset_codes: np.ndarray  # (n,) int32 into asset_ids
    asset_ids: list
    person_codes: np.ndarray  # (n,) int32 into person_ids, NO_PERSON when unassigned
    person_ids: list
    face_position: dict = field(default_factory=dict)
    person_code: dict = field(default_factory=dict)
    asset_code: dict = field(default_factory=dict)

    def code_of_person(self, person_id) -> int:
        key = str(person_id)
        if key not in self.person_code:
            self.person_code[key] = len(self.person_ids)
            self.person_ids.append(key)
        return self.person_code[key]

    def assign(self, face_id, person_id) -> None:
        position = self.face_position.get(str(face_id))
        if position is not None:
            self.person_codes[position] = NO_PERSON if person_id is None else self.code_of_person(person_id)


_CACHE: dict[tuple, OwnerIndex] = {}


def searchable_faces(owner_id, model_name: str):
    return Face.objects.filter(asset__owner_id=owner_id, source=Face.ML, model_name=model_name,
                               embedding__isnull=False, is_recognizable=True)


def current_version(owner_id) -> int:
    return FaceIndexState.objects.filter(owner_id=owner_id).values_list("version", flat=True).first() or 0


def _load(owner_id, model_name: str, version: int) -> OwnerIndex:
    rows = searchable_faces(owner_id, model_name).values_list("id", "asset_id", "person_id", "embedding")
    face_ids, asset_keys, person_keys, blobs = [], [], [], []
    for face_id, asset_id, person_id, blob in rows.iterator(chunk_size=5000):
        face_ids.append(str(face_id))
        asset_keys.append(str(asset_id))
        person_keys.append(None if person_id is None else str(person_id))
        blobs.append(bytes(blob))
    sizes = {len(blob) for blob in blobs}
    if len(sizes) > 1:  # a model change left embeddings of several sizes: search the common one only
        common = max(sizes, key=lambda size: sum(len(blob) == size for blob in blobs))
        keep = [i for i, blob in enumerate(blobs) if len(blob) == common]
        face_ids, asset_keys = [face_ids[i] for i in keep], [asset_keys[i] for i in keep]
        person_keys, blobs = [person_keys[i] for i in keep], [blobs[i] for i in keep]
    dim = len(blobs[0]) // 4 if blobs else 0
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim) if blobs else np.zeros((0, 0),
                                                                                                         "f4")
    index = OwnerIndex(version, np.ascontiguousarray(matrix, dtype=np.float32), face_ids,
                       np.zeros(len(face_ids), np.int32), [], np.full(len(face_ids), NO_PERSON, np.int32), [])
    for position, (face_id, asset_key, person_key) in enumerate(zip(face_ids, asset_keys, person_keys,
                                                                   strict=True)):
        index.face_position[face_id] = position
        if asset_key not in index.asset_code:
            index.asset_code[asset_key] = len(index.asset_ids)
            index.asset_ids.append(asset_key)
        index.asset_codes[position] = index.asset_code[asset_key]
        if person_key is not None:
            index.person_codes[position] = index.code_of_person(person_key)
    return index


def owner_index(owner_id, model_name: str) -> OwnerIndex:
    """The cached index, reloaded when the owner's faces changed since it was built."""
    key = (str(owner_id), model_name)
    version = current_version(owner_id)
    index = _CACHE.get(key)
    if index is None or index.version != version:
        index = _CACHE[key] = _load(owner_id, model_name, version)
    return index


def bump(owner_id, *, assigned: dict | None = None) -> None:
    """Record a change to the owner's searchable faces. `assigned` ({face id: person id or None}) is applied
    to this process's cached indexes when they were current just before this change; otherwise they are
    simply reloaded at their next use. Call inside the transaction that makes the change."""
    with transaction.atomic():
        if not FaceIndexState.objects.filter(owner_id=owner_id).update(version=F("version") + 1):
            FaceIndexState.objects.get_or_create(owner_id=owner_id)
            FaceIndexState.objects.filter(owner_id=owner_id).update(version=F("version") + 1)
        version = current_version(owner_id)
    for (owner_key, _model), index in _CACHE.items():
        if owner_key != str(owner_id):
            continue
        if assigned is not None and index.version == version - 1:
            for face_id, person_id in assigned.items():
                index.assign(face_id, person_id)
            index.version = version


def asset_deleted(sender, instance, **kwargs) -> None:
    """post_delete of an asset (trash purge, user deletion): its faces went with it. Only an existing
    counter is moved: during a user's deletion their counter row is being deleted too."""
    FaceIndexState.objects.filter(owner_id=instance.owner_id).update(version=F("version") + 1)


def forget_cache() -> None:
    _CACHE.clear()


@dataclass
class Neighbourhood:
    """Distances from one embedding to every searchable face of the owner, with the faces the query must
    not see (trashed assets, people born after the photo) already at infinity."""

    index: OwnerIndex
    distances: np.ndarray
    max_distance: float

    def nearest(self, count: int) -> list[int]:
        """Positions of the `count` nearest faces within max distance, nearest first (includes the query
        face itself when it is searchable)."""
        count = min(count, len(self.distances))
        if count <= 0:
            return []
        if count < len(self.distances):
            candidates = np.argpartition(self.distances, count - 1)[:count]
        else:
            candidates = np.arange(len(self.distances))
        candidates = candidates[np.argsort(self.distances[candidates], kind="stable")]
        return [int(p) for p in candidates if self.distances[p] <= self.max_distance]

    def person_at(self, position: int) -> str | None:
        code = int(self.index.person_codes[position])
        return None if code == NO_PERSON else self.index.person_ids[code]

    def nearest_person(self, exclude=()) -> str | None:
        """The person of the nearest face that has one within max distance, skipping `exclude` people."""
        codes = self.index.person_codes
        mask = (codes != NO_PERSON) & (self.distances <= self.max_distance)
        excluded = [self.index.person_code[str(p)] for p in exclude if str(p) in self.index.person_code]
        if excluded:
            mask &= ~np.isin(codes, excluded)
        positions = np.flatnonzero(mask)
        if not len(positions):
            return None
        return self.person_at(int(positions[np.argmin(self.distances[positions])]))


def search(owner_id, model_name: str, vector: np.ndarray, *, max_distance: float,
           photo_date: date | None = None, face_id=None, asset_id=None) -> Neighbourhood:
    """Cosine distances (1 - a.b, 0-2 as Immich) from `vector` to the owner's searchable faces. With the
    query's face and asset, the other faces of that photo are left out: two faces of one photo are two
    people, so they are never each other's neighbours (nor make each other core)."""
    index = owner_index(owner_id, model_name)
    if not len(index.face_ids) or index.matrix.shape[1] != len(vector):
        return Neighbourhood(index, np.zeros(0, np.float32), max_distance)
    # einsum, not BLAS: one thread streaming the matrix (the product is memory-bound), where a threaded BLAS
    # spin-waits for cores that busy workers hold and got 5x slower in the benchmark on a loaded machine.
    distances = 1.0 - np.einsum("ij,j->i", index.matrix, np.asarray(vector, dtype=np.float32))
    hidden = []
    trashed = Asset.objects.filter(owner_id=owner_id, deleted_at__isnull=False).values_list("id", flat=True)
    trashed_codes = [index.asset_code[str(a)] for a in trashed if str(a) in index.asset_code]
    if trashed_codes:
        hidden.append(np.isin(index.asset_codes, trashed_codes))
    if photo_date is not None:
        born_later = Person.objects.filter(owner_id=owner_id, birth_date__gt=photo_date).values_list("id", flat=True)
        codes = [index.person_code[str(p)] for p in born_later if str(p) in index.person_code]
        if codes:
            hidden.append(np.isin(index.person_codes, codes))
    if asset_id is not None and str(asset_id) in index.asset_code:
        same_photo = index.asset_codes == index.asset_code[str(asset_id)]
        if face_id is not None and str(face_id) in index.face_position:
            same_photo[index.face_position[str(face_id)]] = False
        hidden.append(same_photo)
    for mask in hidden:
        distances[mask] = np.inf
    return Neighbourhood(index, distances, max_distance)
