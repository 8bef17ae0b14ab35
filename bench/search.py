"""Smart search query latency over stored CLIP embeddings, through the real search service and a real
(temporary) SQLite database (or DATABASE_URL):

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--queries 200]

For each size: one owner with that many assets, each with a random 512-d embedding (ViT-B-32's size).
Prints the time to load the per-owner matrix and the columns filters test, then p50/p95 of a query as the
search API runs it after the ML service answered the text embedding (matrix-vector product, filter masks,
partial sort; then with the page of 100 assets loaded), without and with metadata filters (type: every
asset matches; file name and city: a tenth match; date range: half match), with the machine's load
average beside them."""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
DIM = 512
MODEL = "ViT-B-32__openai"
CITIES = ["Oslo", "Bergen", "Paris", "Lyon", "Rome", "Milan", "Lima", "Quito", "Perth", "Hobart"]
FIRST_TAKEN = datetime(2020, 1, 1, tzinfo=UTC)


def populate(owner, matrix: np.ndarray) -> None:
    from media_app.models import Asset
    from search_app.models import SmartSearch

    batch = 5000
    for start in range(0, len(matrix), batch):
        assets = [Asset(id=uuid.uuid4(), owner=owner, type="image", original_path=f"/bench/{start + i}.jpg",
                        original_filename=f"{start + i}.jpg", checksum=f"{start + i:040d}", width=1000, height=800,
                        city=CITIES[(start + i) % len(CITIES)], taken_at=FIRST_TAKEN + timedelta(hours=start + i))
                  for i in range(min(batch, len(matrix) - start))]
        Asset.objects.bulk_create(assets)
        SmartSearch.objects.bulk_create([SmartSearch(asset=asset, model_name=MODEL,
                                                     embedding=SmartSearch.pack(matrix[start + i]))
                                         for i, asset in enumerate(assets)])


def percentiles(timings: list[float]) -> str:
    timings = sorted(timings)
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return f"p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms over {len(timings)} queries"


def run(size: int, queries: int, owner_number: int) -> None:
    from django.contrib.auth import get_user_model

    from media_app.models import Asset
    from search_app.services import index, search

    rng = np.random.default_rng(size)
    owner = get_user_model().objects.create_user(f"bench{owner_number}@example.com", "bench-password", name="Bench")
    matrix = rng.normal(size=(size, DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    started = time.perf_counter()
    populate(owner, matrix)
    index.bump(owner.pk)
    print(f"\n{size} embeddings: stored in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    index.owner_index(owner.pk, MODEL)
    print(f"  matrix loaded in {time.perf_counter() - started:.2f} s ({size * DIM * 4 / 2**20:.0f} MB float32)")
    started = time.perf_counter()
    index.owner_index(owner.pk, MODEL, columns=True)
    print(f"  filtered columns loaded in {time.perf_counter() - started:.2f} s")

    cases = (("no filter", search.Filters()), ("type filter, all match", search.Filters(type="IMAGE")),
             ("file name filter, 1 in 10 match", search.Filters(original_file_name="7.jpg")),
             ("city filter, 1 in 10 match", search.Filters(city="paris")),
             ("date range, half match", search.Filters(taken_after=FIRST_TAKEN + timedelta(hours=size // 2),
                                                       taken_before=FIRST_TAKEN + timedelta(hours=size))))
    for label, filters in cases:
        ranking, with_page = [], []
        for _ in range(queries):
            vector = rng.normal(size=DIM).astype(np.float32)
            vector /= np.linalg.norm(vector)
            # search.smart_search without the ML request: the same steps after the text embedding arrived
            began = time.perf_counter()
            found = search.rank(owner, MODEL, vector, filters, limit=101)
            ranked = time.perf_counter()
            assert len(Asset.objects.in_bulk([a for a, _ in found[:100]])) == 100
            ranking.append((ranked - began) * 1000)
            with_page.append((time.perf_counter() - began) * 1000)
        print(f"  vector query ({label}): {percentiles(ranking)}")
        print(f"    with the page of 100 assets loaded: {percentiles(with_page)}")
    print(f"  ({load_note()})")


def load_note() -> str:
    """Other work on the machine slows every figure: say how busy it was."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        os.environ.setdefault("DATA_DIR", str(Path(folder) / "data"))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        for number, size in enumerate(int(part) for part in options.sizes.split(",")):
            run(size, options.queries, number)


if __name__ == "__main__":
    main()
