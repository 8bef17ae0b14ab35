"""Page and API latency at scale: 100,000 assets and 1,000,000 finished jobs, seeded in bulk into a real
(temporary) SQLite database, served by a real HTTP server (Django's WSGI app on 127.0.0.1, a free port) and
measured with a real HTTP client, signed in as the administrator.

    .venv/bin/python bench/pages.py [--assets 100000] [--jobs 1000000] [--requests 40]

Prints p50 and p95 per page; the goal is p95 < 100 ms each."""

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

BATCH = 5000


def seed_assets(owner, count: int) -> None:
    from media_app.models import Asset

    rng = random.Random(17)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    span = (datetime(2026, 1, 1, tzinfo=UTC) - start).total_seconds()
    for first in range(0, count, BATCH):
        batch = []
        for index in range(first, min(count, first + BATCH)):
            taken = start + timedelta(seconds=rng.random() * span)
            geotagged = index % 5 == 0  # a phone-heavy library: one photo in five has a position
            batch.append(Asset(
                owner=owner, type="image", original_path=f"/upload/{index}.jpg", original_filename=f"{index}.jpg",
                checksum=f"{index:040x}", file_size=1000, taken_at=taken, local_taken_at=taken.replace(tzinfo=UTC),
                width=4000, height=3000, latitude=rng.uniform(-60, 70) if geotagged else None,
                longitude=rng.uniform(-180, 180) if geotagged else None,
                thumbnail_path=f"thumbs/{index}.webp", metadata_extracted_at=taken))
        Asset.objects.bulk_create(batch)


def seed_jobs(count: int) -> None:
    from jobs_app.models import Job
    from jobs_app.queues import QUEUES

    names = [(queue.name, queue.item_job or queue.name) for queue in QUEUES]
    now = datetime.now(UTC)
    for first in range(0, count, BATCH * 4):
        batch = []
        for index in range(first, min(count, first + BATCH * 4)):
            queue, name = names[index % len(names)]
            finished = now - timedelta(seconds=index % (7 * 86400))
            failed = index % 1000 == 0
            batch.append(Job(queue=queue, name=name, data={"id": str(uuid.UUID(int=index))},
                             status=Job.FAILED if failed else Job.COMPLETED, runs=1, failures=int(failed),
                             error="boom" if failed else "", created_at=finished, started_at=finished,
                             finished_at=finished))
        Job.objects.bulk_create(batch)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve():
    """Django's WSGI app on a free loopback port, in a thread; returns its base URL."""
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=WSGIServer,
                         handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def measure(session, url: str, count: int) -> list[float]:
    for _ in range(3):  # warm-up: caches, compiled templates
        session.get(url).raise_for_status()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        os.environ["DATA_DIR"] = str(Path(folder) / "data")
        import django

        django.setup()
        import requests
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        admin = get_user_model().objects.create_superuser("bench@example.com", "bench-password", name="Bench")
        started = time.perf_counter()
        seed_assets(admin, options.assets)
        seed_jobs(options.jobs)
        print(f"seeded {options.assets:,} assets and {options.jobs:,} finished jobs in "
              f"{time.perf_counter() - started:.0f} s")

        client = Client()
        client.force_login(admin)
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
        base = serve()
        pages = {
            "timeline, first page": "/photos/",
            "timeline, a page deep in the past (htmx)": f"/photos/?page={max(1, options.assets // 120 // 2)}",
            "map with its markers": "/map/",
            "jobs dashboard": "/admin/jobs/",
            "GET /api/jobs": "/api/jobs",
        }
        worst = 0.0
        for label, path in pages.items():
            headers = {"HX-Request": "true"} if "htmx" in label else {}
            session.headers.update(headers)
            times = sorted(measure(session, base + path, options.requests))
            for header in headers:
                del session.headers[header]
            p95 = times[max(0, round(0.95 * len(times)) - 1)] * 1000
            worst = max(worst, p95)
            print(f"{label:45} {path:28} p50 {statistics.median(times) * 1000:6.1f} ms  p95 {p95:6.1f} ms")
        print(f"RESULT: worst p95 {worst:.1f} ms (goal < 100 ms), load average {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
