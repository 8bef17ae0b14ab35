"""Vectorised nearest-neighbour search over one owner's CLIP embeddings (Immich's searchSmart and
searchDuplicates).

Each process keeps, per (owner, model), a float32 matrix of the owner's embeddings with the asset id of
each row. Beside it, for search, the columns search filters on (type, trash, date taken, file name, place,
camera), row for row, so a filter is a boolean mask over the matrix rather than queries listing or
checking asset ids. A query is one matrix-vector product, the masks and a partial sort: p95 well under 100
ms at 100k embeddings of 512 dimensions (bench/search.py), on SQLite and PostgreSQL alike. Every change to
an owner's embeddings bumps SearchIndexState.version (one UPDATE); a database trigger bumps its
columns_version on every change to those columns, however written. A process notices a new version on its
next query and reloads what it covers. Memory: 2 KB per asset at 512 dimensions (200 MB at 100k), plus
about 200 bytes of columns.

Scale-out path: pgvector (docs/search.md) keeps the vectors in PostgreSQL with an HNSW index, so no
process holds a matrix; this module is the path that works everywhere without it."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from media_app.models import Asset

from ..models import SearchIndexState, SmartSearch

TEXT_COLUMNS = ("original_filename", "city", "state", "country", "make", "model")


class TextColumn:
    """One text column, lowercased, row for row: equality and substring tests over every row in C loops
    (the substring one is a single search through the values joined by NUL, which a search text never holds).
    Lowercase by Python's rules: PostgreSQL's UPPER agrees on nearly all of Unicode; SQLite's LIKE folds
    ASCII only, so there a non-ASCII letter in another case matches here where the ORM would not."""

    def __init__(self, values: list[str]):
        distinct: dict[str, str] = {}  # one string object per distinct value: places and cameras repeat
        lowered = [distinct.setdefault(lower, lower) for lower in (value.lower() for value in values)]
        self.values = np.array(lowered, dtype=object)
        self._joined = "\0".join(lowered)
        lengths = np.fromiter((len(value) + 1 for value in lowered), dtype=np.int64, count=len(lowered))
        self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))

    def equal(self, value: str) -> np.ndarray:
        return self.values == value.lower()

    def containing(self, text: str) -> np.ndarray:
        found = np.zeros(len(self.values), dtype=bool)
        needle = text.lower()
        if needle and "\0" not in needle:
            hits = [match.start() for match in re.finditer(re.escape(needle), self._joined)]
            found[np.searchsorted(self._starts, hits, side="right") - 1] = True
        return found


@dataclass
class AssetColumns:
    """What search filters on, for each row of an OwnerIndex's matrix."""

    version: int  # SearchIndexState.columns_version they were read at
    live: np.ndarray  # bool: not in the trash
    type: np.ndarray  # AssetType values
    taken_at: np.ndarray  # datetime64[us] in UTC, NaT when unknown
    text: dict[str, TextColumn]


@dataclass
class OwnerIndex:
    version: int
    matrix: np.ndarray  # (n, d) float32, L2-normalised rows
    asset_ids: list[str]
    position: dict[str, int] = field(default_factory=dict)
    columns: AssetColumns | None = None  # loaded on the first search that filters

    def rows_of(self, asset_ids) -> np.ndarray:
        """The rows of these asset ids, as a boolean mask (ids without an embedding are ignored)."""
        mask = np.zeros(len(self.asset_ids), dtype=bool)
        mask[[row for row in map(self.position.get, map(str, asset_ids)) if row is not None]] = True
        return mask


_CACHE: dict[tuple[str, str], OwnerIndex] = {}


def current_versions(owner_id) -> tuple[int, int]:
    """(embeddings version, columns version) of the owner."""
    versions = SearchIndexState.objects.filter(owner_id=owner_id).values_list("version", "columns_version").first()
    return versions or (0, 0)


def _load(owner_id, model_name: str, version: int) -> OwnerIndex:
    rows = (SmartSearch.objects.filter(asset__owner_id=owner_id, model_name=model_name)
            .values_list("asset_id", "embedding"))
    asset_ids, blobs = [], []
    for asset_id, blob in rows.iterator(chunk_size=5000):
        asset_ids.append(str(asset_id))
        blobs.append(bytes(blob))
    dimension = len(blobs[0]) // 4 if blobs else 0
    matrix = (np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimension) if blobs
              else np.zeros((0, 0), np.float32))
    index = OwnerIndex(version, np.ascontiguousarray(matrix, dtype=np.float32), asset_ids)
    index.position = {asset_id: i for i, asset_id in enumerate(asset_ids)}
    return index


def as_utc64(value: datetime) -> np.datetime64:
    """A datetime as AssetColumns.taken_at holds it; a naive one is read in the default time zone, as the ORM
    reads it."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")


def _load_columns(owner_id, index: OwnerIndex, version: int) -> AssetColumns:
    count = len(index.asset_ids)
    live, types, taken = [False] * count, [""] * count, [None] * count
    texts = {name: [""] * count for name in TEXT_COLUMNS}
    rows = Asset.objects.filter(owner_id=owner_id).values_list("id", "deleted_at", "type", "taken_at", *TEXT_COLUMNS)
    for asset_id, deleted_at, asset_type, taken_at, *values in rows.iterator(chunk_size=5000):
        row = index.position.get(str(asset_id))
        if row is None:  # no embedding of this model
            continue
        live[row], types[row] = deleted_at is None, asset_type
        taken[row] = None if taken_at is None else as_utc64(taken_at)
        for name, value in zip(TEXT_COLUMNS, values, strict=True):
            texts[name][row] = value
    return AssetColumns(version, np.array(live, dtype=bool), np.array(types, dtype=object),
                        np.array(taken, dtype="datetime64[us]"),  # None becomes NaT
                        {name: TextColumn(values) for name, values in texts.items()})


def owner_index(owner_id, model_name: str, *, columns: bool = False) -> OwnerIndex:
    """The cached index, reloaded when the owner's embeddings changed since it was built; with `columns`,
    its AssetColumns too, reloaded when an asset's filtered column changed."""
    key = (str(owner_id), model_name)
    version, columns_version = current_versions(owner_id)
    index = _CACHE.get(key)
    if index is None or index.version != version:
        index = _CACHE[key] = _load(owner_id, model_name, version)
    if columns and (index.columns is None or index.columns.version != columns_version):
        index.columns = _load_columns(owner_id, index, columns_version)
    return index


def bump(owner_id) -> None:
    """Record a change to the owner's embeddings (call inside the transaction that makes it)."""
    with transaction.atomic():
        if not SearchIndexState.objects.filter(owner_id=owner_id).update(version=F("version") + 1):
            SearchIndexState.objects.get_or_create(owner_id=owner_id)
            SearchIndexState.objects.filter(owner_id=owner_id).update(version=F("version") + 1)


def asset_deleted(sender, instance, **kwargs) -> None:
    """post_delete of an asset: its embeddings went with it. Only an existing counter is moved."""
    SearchIndexState.objects.filter(owner_id=instance.owner_id).update(version=F("version") + 1)


def forget_cache() -> None:
    _CACHE.clear()


def _ranked(distances: np.ndarray, count: int) -> np.ndarray:
    """Positions of the `count` smallest finite distances, nearest first."""
    count = min(count, len(distances))
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(distances, count - 1)[:count] if count < len(distances) else np.arange(count)
    candidates = candidates[np.argsort(distances[candidates], kind="stable")]
    return candidates[np.isfinite(distances[candidates])]


def nearest(index: OwnerIndex, vector, *, limit: int, offset: int = 0, keep: np.ndarray | None = None,
            excluded=(), max_distance: float | None = None) -> list[tuple[str, float]]:
    """(asset id, cosine distance 1 - a.b) of the index's nearest embeddings, nearest first: `offset`
    skipped, at most `limit`. Candidates can be restricted to the rows `keep` marks (a boolean mask over
    the index's rows) and by `excluded` asset ids."""
    vector = np.asarray(vector, dtype=np.float32)
    if not index.asset_ids or index.matrix.shape[1] != len(vector) or limit <= 0:
        return []
    distances = 1.0 - index.matrix @ vector
    if keep is not None:
        distances[~keep] = np.inf
    distances[index.rows_of(excluded)] = np.inf
    if max_distance is not None:
        distances[distances > max_distance] = np.inf
    ranked = _ranked(distances, offset + limit)
    return [(index.asset_ids[p], float(distances[p])) for p in ranked[offset:]]
