"""Timeline and map API latency at library scale: p50/p95 of GET /api/timeline/buckets, one month's
GET /api/timeline/bucket and GET /api/map/markers, through the whole Django stack (an API key, as Immich's
clients call them), for one user with N assets spread over ten years (a share of them geotagged). Target:
p95 < 100 ms on this machine at 100k assets.

    .venv/bin/python bench/api.py [--assets 100000] [--geotagged 0.3] [--rounds 30]

Runs on a fresh SQLite database in a temporary DATA_DIR (or on DATABASE_URL if set: use a scratch database,
its tables are created and filled)."""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(data_dir: str) -> None:
    os.environ.setdefault("DATA_DIR", data_dir)
    os.environ["ALLOWED_HOSTS"] = "testserver"  # Django's test client, which this script calls the API with
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(count: int, geotagged: float):
    from django.contrib.auth import get_user_model

    from media_app.models import Asset
    from users_app.models import ApiKey

    owner = get_user_model().objects.create_user("bench@example.com", "bench-password-1")
    _, secret = ApiKey.issue(owner, "bench")
    rng = random.Random(15)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    batch = []
    for index in range(count):
        taken = start + timedelta(seconds=rng.randrange(10 * 365 * 86400))
        located = rng.random() < geotagged
        batch.append(Asset(owner=owner, type="image" if index % 10 else "video", original_path=f"/bench/{index}.jpg",
                           original_filename=f"{index}.jpg", checksum=f"{index:040x}", file_size=1_000_000,
                           file_created_at=taken, taken_at=taken, local_taken_at=taken, width=4000, height=3000,
                           latitude=rng.uniform(-60, 70) if located else None,
                           longitude=rng.uniform(-180, 180) if located else None,
                           city="Somewhere" if located else ""))
        if len(batch) == 5000:
            Asset.objects.bulk_create(batch)
            batch = []
    Asset.objects.bulk_create(batch)
    return secret


def timings(client, url: str, headers: dict, rounds: int) -> list[float]:
    client.get(url, **headers)  # warm caches once
    result = []
    for _ in range(rounds):
        began = time.perf_counter()
        response = client.get(url, **headers)
        result.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--geotagged", type=float, default=0.3, help="share of assets with GPS coordinates")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data_dir:
        setup(data_dir)
        from django.test import Client

        began = time.perf_counter()
        secret = fill(args.assets, args.geotagged)
        print(f"{args.assets} assets ({args.geotagged:.0%} geotagged) created in {time.perf_counter() - began:.1f} s")
        client, headers = Client(), {"HTTP_X_API_KEY": secret}
        buckets = client.get("/api/timeline/buckets", **headers).json()
        assert isinstance(buckets, list), buckets
        busiest = max(buckets, key=lambda bucket: bucket["count"])
        cases = {
            f"timeline buckets ({len(buckets)} months)": "/api/timeline/buckets",
            f"one bucket ({busiest['count']} assets)": f"/api/timeline/bucket?timeBucket={busiest['timeBucket']}",
            "map markers": "/api/map/markers",
        }
        print(f"{'endpoint':<36} {'p50 ms':>8} {'p95 ms':>8}  target p95 < 100 ms")
        for name, url in cases.items():
            measured = sorted(timings(client, url, headers, args.rounds))
            p50 = statistics.median(measured)
            p95 = measured[min(len(measured) - 1, round(0.95 * (len(measured) - 1)))]
            print(f"{name:<36} {p50:8.1f} {p95:8.1f}  {'ok' if p95 < 100 else 'SLOWER'}")


if __name__ == "__main__":
    main()
