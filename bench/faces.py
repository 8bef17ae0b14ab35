"""Face detection + embedding throughput of the ML service, over HTTP as the server calls it.

    .venv/bin/python bench/faces.py [--rounds 3] [--clients 1] [--url http://host:3003]

Starts the real service (`python -m ml_service`, one worker) on a free port unless --url is given, sends the
test photos (tests/data) (faces and ordinary photos, as 1440 px JPEG previews like the server sends) and prints
images/s, ms per face, model load time and the peak RSS of the service's worker process."""

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image, ImageOps

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from ml_service.faces import BUNDLED_FACE_MODEL  # noqa: E402

TESTDATA = PROJECT_DIR / "tests" / "data"
DETECTION = {"modelName": BUNDLED_FACE_MODEL, "options": {"minScore": 0.7}}
ENTRIES = json.dumps({"facial-recognition": {"detection": DETECTION, "recognition": {"modelName": BUNDLED_FACE_MODEL}}})
DETECTION_ONLY = json.dumps({"facial-recognition": {"detection": DETECTION}})


def previews() -> list[bytes]:
    """Every test photo as a JPEG preview of at most 1440 px (Immich's default preview size)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    images = []
    for folder in ("faces", "photos"):
        for path in sorted((TESTDATA / folder).iterdir()):
            if path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".webp", ".heic", ".avif"}:
                continue
            image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
            image.thumbnail((1440, 1440))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=80)
            images.append(buffer.getvalue())
    return images


def predict(url: str, image: bytes, entries: str = ENTRIES) -> int:
    files = {"image": ("blob", image)}
    response = requests.post(f"{url}/predict", data={"entries": entries}, files=files, timeout=300)
    response.raise_for_status()
    return len(response.json()["facial-recognition"])


def start_service(folder: str) -> tuple[str, subprocess.Popen]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "ml_service", "--port", str(port)],
        cwd=PROJECT_DIR,
        env={**os.environ, "ML_MODEL_CACHE": folder},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{url}/ping", timeout=1).text == "pong":
                return url, process
        except requests.RequestException:  # not listening yet, or the worker still booting
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the ML service did not start")


def peak_rss_mb(master_pid: int) -> float:
    """VmHWM (peak resident memory) of the gunicorn worker, the process that holds the models."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1, help="concurrent requests (the server's concurrency)")
    parser.add_argument("--url", help="an already running ML service (then no RSS figure)")
    options = parser.parse_args()
    images = previews()
    with tempfile.TemporaryDirectory() as folder:
        url, process = (options.url, None) if options.url else start_service(folder)
        try:
            started = time.perf_counter()
            predict(url, images[0])
            print(f"first request (loads both models): {time.perf_counter() - started:.2f} s")
            batch = images * options.rounds

            def timed(entries: str) -> tuple[float, int]:
                started = time.perf_counter()
                with ThreadPoolExecutor(options.clients) as pool:
                    faces = sum(pool.map(lambda image: predict(url, image, entries), batch))
                return time.perf_counter() - started, faces

            detection_time, _ = timed(DETECTION_ONLY)
            elapsed, faces = timed(ENTRIES)
            print(f"{len(batch)} images ({len(images)} photos x {options.rounds}), {faces} faces, "
                  f"{options.clients} client(s), {os.cpu_count()} cores")
            print(f"detection + embedding: {len(batch) / elapsed:.1f} images/s ({1000 * elapsed / len(batch):.0f} ms "
                  f"per image); detection alone {1000 * detection_time / len(batch):.0f} ms per image")
            print(f"embedding: {1000 * max(elapsed - detection_time, 0) / max(faces, 1):.0f} ms per face")
            if process:
                print(f"peak RSS of the ML worker process: {peak_rss_mb(process.pid):.0f} MB")
        finally:
            if process:
                process.terminate()
                process.wait(timeout=15)


if __name__ == "__main__":
    main()
