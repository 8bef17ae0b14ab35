"""Facial recognition speed on synthetic 512-d embeddings, through the real clustering service and a real
(temporary) SQLite database (or DATABASE_URL):

    .venv/bin/python bench/faces_recognition.py [--sizes 10000,100000] [--queries 1000] [--query-only]

For each size: people of 5-40 faces (tight clusters) plus 20 % lone faces, one photo per face. Prints the
time to load the per-owner embedding matrix, the k-NN latency of one face (p50/p95 over --queries random
faces: one matrix-vector product and the sort of the faces within max distance), one FacialRecognition job
(p50/p95 over 100 faces, with its database reads and writes), and the seconds of Facial Recognition ALL
(reset, the neighbours of every face in chunked matrix products, then every face in queue order with
deferred faces at the back, written in one transaction) with the people found."""

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
JOB_SAMPLE = 100  # single FacialRecognition jobs timed (each writes its result)


def synthetic(count: int, rng) -> tuple[np.ndarray, int]:
    """Unit vectors: people of 5-40 faces and 20 % lone faces, shuffled; and how many people."""
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
    return matrix[rng.permutation(count)], len(vectors) - 1


def percentile_95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


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

    from people_app.models import Person
    from people_app.services import face_index, recognition
    from settings_app.services import get_config

    rng = np.random.default_rng(size)
    owner = get_user_model().objects.create_user(f"bench{owner_number}@example.com", "bench-password", name="Bench")
    started = time.perf_counter()
    matrix, people = synthetic(size, rng)
    populate(owner, matrix)
    face_index.bump(owner.pk)
    print(f"\n{size} faces: stored in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    face_index.owner_index(owner.pk, MODEL)
    print(f"  embedding matrix loaded in {time.perf_counter() - started:.2f} s "
          f"({size * DIM * 4 / 2**20:.0f} MB float32)")

    settings = get_config().machineLearning.facialRecognition
    index = face_index.owner_index(owner.pk, MODEL)
    positions = rng.choice(len(index.face_ids), size=min(queries, len(index.face_ids)), replace=False)
    timings = []
    for position in positions:
        began = time.perf_counter()
        face_index.neighbours_of(index, int(position), settings.maxDistance)
        timings.append((time.perf_counter() - began) * 1000)
    print(f"  k-NN of one face (matrix-vector product + sort): p50 {statistics.median(timings):.1f} ms, "
          f"p95 {percentile_95(timings):.1f} ms over {len(timings)} queries")
    timings = []
    for position in positions[:JOB_SAMPLE]:
        began = time.perf_counter()
        recognition.recognize_face(index.face_ids[position])
        timings.append((time.perf_counter() - began) * 1000)
    print(f"  FacialRecognition job of one face (k-NN, reads and writes): p50 {statistics.median(timings):.1f} ms, "
          f"p95 {percentile_95(timings):.1f} ms over {len(timings)} faces")
    if query_only:
        return
    started = time.perf_counter()
    totals = recognition.cluster_faces(recognition.face_ids_to_recognize(True))
    elapsed = time.perf_counter() - started
    print(f"  Facial Recognition ALL (reset + batched k-NN + assignment): {elapsed:.1f} s "
          f"({elapsed / size * 1000:.2f} ms per face), {Person.objects.filter(owner=owner).count()} people "
          f"(synthetic: {people}); outcomes {dict(sorted(totals.items()))}")


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
