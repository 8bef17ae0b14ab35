"""Vectorised nearest-neighbour search over one owner's CLIP embeddings (Immich's searchSmart and
searchDuplicates).

Each process keeps, per (owner, model), a float32 matrix of the owner's embeddings with the asset id of
each row. A query is one matrix-vector product plus a partial sort: p95 well under 100 ms at 100k
embeddings of 512 dimensions (bench/search.py), on SQLite and PostgreSQL alike. Every change to an
owner's embeddings bumps SearchIndexState.version (one UPDATE); a process notices the new version on its
next query and reloads. Memory: 2 KB per asset at 512 dimensions (200 MB at 100k).

Scale-out path: pgvector (docs/search.md) keeps the vectors in PostgreSQL with an HNSW index, so no
process holds a matrix; this module is the path that works everywhere without it."""

from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import F

from ..models import SearchIndexState, SmartSearch


@dataclass
class OwnerIndex:
    version: int
    matrix: np.ndarray  # (n, d) float32, L2-normalised rows
    asset_ids: list[str]
    position: dict[str, int] = field(default_factory=dict)


_CACHE: dict[tuple[str, str], OwnerIndex] = {}


def current_version(owner_id) -> int:
    return SearchIndexState.objects.filter(owner_id=owner_id).values_list("version", flat=True).first() or 0


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


def owner_index(owner_id, model_name: str) -> OwnerIndex:
    """The cached index, reloaded when the owner's embeddings changed since it was built."""
    key = (str(owner_id), model_name)
    version = current_version(owner_id)
    index = _CACHE.get(key)
    if index is None or index.version != version:
        index = _CACHE[key] = _load(owner_id, model_name, version)
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


def nearest(owner_id, model_name: str, vector, *, limit: int, offset: int = 0, allowed=None, accept=None,
            excluded=(), max_distance: float | None = None) -> list[tuple[str, float]]:
    """(asset id, cosine distance 1 - a.b) of the nearest embeddings, nearest first: `offset` skipped, at
    most `limit`. Candidates can be restricted by `allowed` (asset ids: for small sets) or `accept` (a
    function of a list of asset ids returning the accepted ones: asked for the nearest candidates only, in
    growing batches, for filters that match much of the library), and `excluded`."""
    index = owner_index(owner_id, model_name)
    vector = np.asarray(vector, dtype=np.float32)
    if not index.asset_ids or index.matrix.shape[1] != len(vector) or limit <= 0:
        return []
    distances = 1.0 - index.matrix @ vector
    if allowed is not None:
        keep = np.zeros(len(distances), dtype=bool)
        keep[[index.position[a] for a in map(str, allowed) if a in index.position]] = True
        distances[~keep] = np.inf
    for asset_id in map(str, excluded):
        if asset_id in index.position:
            distances[index.position[asset_id]] = np.inf
    if max_distance is not None:
        distances[distances > max_distance] = np.inf
    wanted = offset + limit
    if accept is None:
        ranked = _ranked(distances, wanted)
    else:
        checked: dict[int, bool] = {}
        batch = 2 * wanted + 100
        while True:
            ranked = _ranked(distances, batch)
            new = [int(p) for p in ranked if int(p) not in checked]
            ids = [index.asset_ids[p] for p in new]
            accepted = set(map(str, accept(ids))) if ids else set()
            checked.update((p, asset_id in accepted) for p, asset_id in zip(new, ids, strict=True))
            kept = [int(p) for p in ranked if checked[int(p)]]
            if len(kept) >= wanted or batch >= len(distances):
                break
            # size the next batch from the share of candidates the filter accepted so far
            share = max(len(kept) / max(len(ranked), 1), 1 / len(distances))
            batch = min(len(distances), max(2 * batch, int(wanted / share * 1.5)))
        ranked = np.asarray(kept, dtype=np.int64)
    return [(index.asset_ids[p], float(distances[p])) for p in ranked[offset:wanted]]
