"""Vectorised nearest-neighbour search over one owner's face embeddings (Immich's `searchFaces`).

Each process keeps, per (owner, model), a float32 matrix of the owner's searchable embeddings (ML faces
big enough to recognise) with, per row, the face id, its asset and its person. One query is one
matrix-vector product plus a sort of the faces within max distance (~10 ms at 100k faces of 512
dimensions); a run over many faces (Facial Recognition ALL) computes the neighbours of all of them in
chunked matrix products (BLAS), on SQLite and PostgreSQL alike, with no Python loop over faces. The rules
that change while people are assigned (trash, birth dates, one face per photo and person) are applied by
the caller (services.recognition) to these lists.

Staleness: every change to what the search sees bumps the owner's FaceIndexState.version (one UPDATE).
The process that made the change applies it to its own matrix when nobody else changed anything in
between (the recognition run assigns thousands of faces without reloading); any other process notices the
new version on its next query and reloads. Trashed assets and birth dates are read per run (both are
small sets), so the trash and the person pages need not know about the index.

Memory: 2 KB per face at 512 dimensions (200 MB at 100k faces, per process that runs recognition). The
scale-out path is pgvector (docs/faces.md)."""

from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import F

from ..models import Face, FaceIndexState

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


def neighbours_of(index: OwnerIndex, position: int, max_distance: float) -> np.ndarray:
    """Positions of the faces within max distance of the face at `position`, nearest first (itself included):
    one matrix-vector product. einsum, not BLAS: one thread streaming the matrix (the product is memory-bound),
    where a threaded BLAS spin-waits for cores that busy workers hold and got 5x slower in the benchmark on a
    loaded machine."""
    distances = 1.0 - np.einsum("ij,j->i", index.matrix, index.matrix[position])
    found = np.flatnonzero(distances <= max_distance)
    return found[np.argsort(distances[found], kind="stable")]


# --- Many queries at once (Facial Recognition ALL / MISSING) ----------------------------------------------

BATCH_CELLS = 1 << 24  # distances computed per matrix product: 64 MB of float32, whatever the library size


@dataclass
class NeighbourLists:
    """For each query, the faces within max distance, nearest first, at most `limit` of them. `truncated`
    says that more were within max distance: a caller that needs more must search that face in full."""

    positions: list[np.ndarray]
    distances: list[np.ndarray]
    truncated: np.ndarray  # (queries,) bool


def neighbour_lists(index: OwnerIndex, queries: np.ndarray, max_distance: float, limit: int,
                    progress=None) -> NeighbourLists:
    """The k-NN of many faces of the index (by position) as chunked matrix products (BLAS): the work of one
    search per face, without reading the matrix once per face. No per-query filters: the caller applies
    trash, birth dates and same-photo rules, which change while it assigns people. progress(count), if
    given, hears how many queries are done after each chunk."""
    count = len(index.face_ids)
    chunk = max(1, BATCH_CELLS // max(count, 1))
    positions, distances, truncated = [], [], np.zeros(len(queries), bool)
    for start in range(0, len(queries), chunk):
        rows = queries[start : start + chunk]
        block = 1.0 - index.matrix[rows] @ index.matrix.T
        hit_rows, hit_columns = np.nonzero(block <= max_distance)
        hit_distances = block[hit_rows, hit_columns]
        order = np.lexsort((hit_distances, hit_rows))  # by query, then nearest first
        hit_rows, hit_columns, hit_distances = hit_rows[order], hit_columns[order], hit_distances[order]
        bounds = np.searchsorted(hit_rows, np.arange(len(rows) + 1))
        for row in range(len(rows)):
            begin, end = bounds[row], bounds[row + 1]
            truncated[start + row] = end - begin > limit
            end = min(end, begin + limit)
            positions.append(hit_columns[begin:end].astype(np.int32))
            distances.append(hit_distances[begin:end])
        if progress:
            progress(start + len(rows))
    return NeighbourLists(positions, distances, truncated)
