"""Facial recognition speed on synthetic 512-d embeddings, through the real clustering service and a real
(temporary) SQLite database (or DATABASE_URL):

    .venv/bin/python bench/faces_recognition.py [--sizes 10000,100000] [--queries 1000] [--query-only]

For each size: people of 5-40 faces (tight clusters) plus 20 % lone faces, one photo per face. Prints the
time to load the per-owner embedding matrix, the k-NN query latency (p50/p95 over --queries random faces:
one matrix-vector product, the partial sort and the per-query filters), and the seconds of Facial
Recognition ALL (reset + every face in queue order, deferred faces at the back) with the people found.
--query-only skips the full run (it takes about 20 ms per face at 100k faces)."""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
DIM = 512
MODEL = "bundled-mtcnn-facenet"


def synthetic(count: int, rng) -> np.ndarray:
    vectors, made = [], 0
    while made < count * 0.8:
        size = int(rng.integers(5, 41))
        centre = rng.normal(size=DIM)
        centre /= np.linalg.norm(centre)
        members = centre + rng.normal(scale=0.025, size=(size, DIM))  # ~0.3 cosine apart within a person
        vectors.append(members)
        made += size
    vectors.append(rng.normal(size=(count - made, DIM)))
    matrix = np.concatenate(vectors)[:count].astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix[rng.permutation(count)]


def populate(owner, matrix: np.ndarray) -> None:
    from media_app.models import Asset
    from people_app.models import Face

    batch = 5000
    for start in range(0, len(matrix), batch):
        assets = [Asset(id=uuid.uuid4(), owner=owner, type="image", original_path=f"/bench/{start + i}.jpg",
                        original_filename=f"{start + i}.jpg", checksum=f"{start + i:040d}", width=1000, height=800)
                  for i in range(min(batch, len(matrix) - start))]
        Asset.objects.bulk_create(assets)
        Face.objects.bulk_create([
            Face(asset=asset, x1=100, y1=100, x2=300, y2=340, image_width=1000, image_height=800, score=0.99,
                 model_name=MODEL, embedding=Face.pack(matrix[start + i])) for i, asset in enumerate(assets)])


def run(size: int, queries: int, query_only: bool, owner_number: int) -> None:
    from django.contrib.auth import get_user_model

    from people_app.models import Face, Person
    from people_app.services import face_index, recognition
    from settings_app.services import get_config

    rng = np.random.default_rng(size)
    owner = get_user_model().objects.create_user(f"bench{owner_number}@example.com", "bench-password", name="Bench")
    started = time.perf_counter()
    populate(owner, synthetic(size, rng))
    face_index.bump(owner.pk)
    print(f"\n{size} faces: stored in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    face_index.owner_index(owner.pk, MODEL)
    print(f"  embedding matrix loaded in {time.perf_counter() - started:.2f} s "
          f"({size * DIM * 4 / 2**20:.0f} MB float32)")

    settings = get_config().machineLearning.facialRecognition
    sample = list(Face.objects.filter(asset__owner=owner).values_list("embedding", "asset_id", "id")[:queries])
    timings = []
    for blob, asset_id, face_id in sample:
        vector = np.frombuffer(bytes(blob), dtype="<f4")
        began = time.perf_counter()
        neighbourhood = face_index.search(owner.pk, MODEL, vector, max_distance=settings.maxDistance,
                                          face_id=face_id, asset_id=asset_id)
        neighbourhood.nearest(settings.minFaces)
        neighbourhood.nearest_person()
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"  k-NN query (k = min faces {settings.minFaces}): p50 {statistics.median(timings):.1f} ms, "
          f"p95 {p95:.1f} ms over {len(timings)} queries")
    if query_only:
        return
    started = time.perf_counter()
    totals = recognition.cluster_faces(recognition.face_ids_to_recognize(True))
    elapsed = time.perf_counter() - started
    print(f"  Facial Recognition ALL: {elapsed:.1f} s ({elapsed / size * 1000:.1f} ms per face), "
          f"{Person.objects.filter(owner=owner).count()} people; outcomes {dict(sorted(totals.items()))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--query-only", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faces-") as folder:
        os.environ.setdefault("DATA_DIR", str(Path(folder) / "data"))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        for number, size in enumerate(int(part) for part in options.sizes.split(",")):
            run(size, options.queries, options.query_only, number)


if __name__ == "__main__":
    main()
