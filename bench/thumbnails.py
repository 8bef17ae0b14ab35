"""Thumbnail throughput: 12-megapixel JPEGs -> WebP 250 thumbnail + JPEG 1440 preview + thumbhash, through
the real service code (media_app.services.thumbnails.render_image, files written as in production), with
one process per core as the thumbnail job's workers run.

    .venv/bin/python bench/thumbnails.py [--images 32] [--workers N] [--rounds 2]

The corpus is generated here (4000x3000, gradients + sensor-like noise + fine texture, quality 90, about
4 MB each, like a phone photo), in a temporary folder that is removed afterwards."""

import argparse
import os
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

WIDTH, HEIGHT = 4000, 3000


def make_photo(arguments) -> str:
    """One synthetic 12 MP photo: smooth colour gradients, a seed-dependent wave texture and noise, so the
    JPEG carries as much entropy-coded detail as a real photo (noise is what makes decoding expensive)."""
    import numpy as np
    from PIL import Image

    path, seed = arguments
    rng = np.random.default_rng(seed)
    y = np.arange(HEIGHT, dtype=np.float32)[:, None]
    x = np.arange(WIDTH, dtype=np.float32)[None, :]
    fx, fy = rng.uniform(40, 200, 2).astype(np.float32)
    pixels = np.empty((HEIGHT, WIDTH, 3), dtype=np.float32)
    pixels[..., 0] = x * (255 / WIDTH)
    pixels[..., 1] = y * (255 / HEIGHT)
    pixels[..., 2] = (np.sin(x / fx) * np.cos(y / fy) * 0.5 + 0.5) * 255
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * 10
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def _init_worker():
    import django

    django.setup()


def _render(arguments):
    from media_app.services.thumbnails import render_image

    source, output, settings = arguments
    started, cpu_started = time.perf_counter(), time.process_time()
    render_image(source, output, Path(source).stem, settings)
    return time.perf_counter() - started, time.process_time() - cpu_started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="distinct photos in the corpus")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="worker processes (default: cores)")
    parser.add_argument("--rounds", type=int, default=2, help="times the corpus is processed; the best counts")
    parser.add_argument("--corpus", help="keep the generated corpus in this folder and reuse it next time")
    options = parser.parse_args()

    import django

    django.setup()
    from media_app.services.thumbnails import ImageSettings
    from settings_app.services import defaults

    settings = ImageSettings.from_config(defaults())  # webp 250 q80 + jpeg 1440 q80, Display P3 preferred
    with tempfile.TemporaryDirectory(prefix="bench-thumbnails-") as folder:
        corpus = Path(options.corpus or Path(folder) / "corpus")
        output = Path(folder) / "thumbs"
        corpus.mkdir(parents=True, exist_ok=True)
        wanted = [(str(corpus / f"photo{index:03d}.jpg"), index) for index in range(options.images)]
        missing = [item for item in wanted if not os.path.exists(item[0])]
        started = time.perf_counter()
        if missing:
            with Pool(options.workers) as pool:
                pool.map(make_photo, missing)
        sources = [path for path, _ in wanted]
        size = sum(os.path.getsize(path) for path in sources) / len(sources) / 1e6
        print(f"corpus: {len(sources)} JPEGs {WIDTH}x{HEIGHT} q90, {size:.1f} MB each "
              f"({len(missing)} generated in {time.perf_counter() - started:.1f} s)")
        print(f"outputs: thumbnail {settings.thumbnail.format} {settings.thumbnail.size} "
              f"q{settings.thumbnail.quality}, preview {settings.preview.format} {settings.preview.size} "
              f"q{settings.preview.quality}, thumbhash; {options.workers} worker processes; "
              f"load average before: {os.getloadavg()[0]:.2f}")
        jobs = [(source, str(output), settings) for source in sources]
        rates, cpu_rates = [], []
        with Pool(options.workers, initializer=_init_worker) as pool:
            pool.map(_render, jobs[: options.workers * 2])  # warm up: imports, ICC profiles
            for round_number in range(1, options.rounds + 1):
                started = time.perf_counter()
                timings = pool.map(_render, jobs, chunksize=1)
                elapsed = time.perf_counter() - started
                cpu_per_image = sum(cpu for _, cpu in timings) / len(timings)
                rates.append(len(jobs) / elapsed)
                cpu_rates.append(options.workers / cpu_per_image)
                print(f"round {round_number}: {len(jobs)} images in {elapsed:.2f} s = {rates[-1]:.1f} images/s; "
                      f"{cpu_per_image * 1000:.0f} ms CPU per image")
        print(f"RESULT: {max(rates):.1f} images/s wall clock (12 MP JPEG -> webp 250 + jpeg 1440 + thumbhash, "
              f"{options.workers} processes)")
        # Other processes on the machine slow the wall clock; CPU time per image is what the work costs.
        print(f"CPU-bound capacity: {max(cpu_rates):.1f} images/s on {options.workers} otherwise idle cores "
              f"(load average after: {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
