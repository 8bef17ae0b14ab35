"""Thumbnail throughput against sharp (libvips): 12-megapixel JPEGs and PNGs -> WebP 250 thumbnail + JPEG 1440
preview + thumbhash, through the real service code (media_app.services.thumbnails.render_image, files
written as in production), with one process per core as the thumbnail job's workers run; then the same
files through sharp (bench/thumbnails-sharp.mjs, same outputs and qualities, `workers` images in flight).

    .venv/bin/python bench/thumbnails.py [--images 16] [--workers N] [--rounds 2] [--formats jpeg,png]

sharp is a dev dependency of the bench only: `npm ci --prefix bench` installs it into bench/node_modules.
The corpus is generated here (4000x3000, gradients + sensor-like noise + fine texture, like a phone photo:
JPEG quality 90, about 4 MB; PNG at zlib level 6 as phones and editors save them, every other one RGBA
with a soft alpha edge), in a temporary folder that is removed afterwards."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

WIDTH, HEIGHT = 4000, 3000
SHARP_SCRIPT = BENCH / "thumbnails-sharp.mjs"


def make_photo(arguments) -> str:
    """One synthetic 12 MP photo: smooth colour gradients, a seed-dependent wave texture and noise, so the
    file carries as much entropy-coded detail as a real photo (noise is what makes decoding expensive).
    `alpha` adds a vignette-shaped transparency (a cut-out or an edited PNG)."""
    import numpy as np
    from PIL import Image

    path, seed, alpha = arguments
    rng = np.random.default_rng(seed)
    y = np.arange(HEIGHT, dtype=np.float32)[:, None]
    x = np.arange(WIDTH, dtype=np.float32)[None, :]
    fx, fy = rng.uniform(40, 200, 2).astype(np.float32)
    pixels = np.empty((HEIGHT, WIDTH, 4 if alpha else 3), dtype=np.float32)
    pixels[..., 0] = x * (255 / WIDTH)
    pixels[..., 1] = y * (255 / HEIGHT)
    pixels[..., 2] = (np.sin(x / fx) * np.cos(y / fy) * 0.5 + 0.5) * 255
    pixels[..., :3] += rng.standard_normal((HEIGHT, WIDTH, 3), dtype=np.float32) * 10
    if alpha:
        distance = np.hypot((x - WIDTH / 2) / (WIDTH / 2), (y - HEIGHT / 2) / (HEIGHT / 2))
        pixels[..., 3] = np.clip((1.2 - distance) * 512, 0, 255)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if path.endswith(".png"):
        image.save(path, compress_level=6)
    else:
        image.save(path, quality=90)
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


def make_corpus(folder: Path, image_format: str, count: int, workers: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [(str(folder / f"photo{index:03d}.{image_format}"), index, image_format == "png" and index % 2 == 1)
              for index in range(count)]
    missing = [item for item in wanted if not os.path.exists(item[0])]
    started = time.perf_counter()
    if missing:
        with Pool(workers) as pool:
            pool.map(make_photo, missing)
    sources = [item[0] for item in wanted]
    size = sum(os.path.getsize(path) for path in sources) / len(sources) / 1e6
    alpha = " (every other one RGBA)" if image_format == "png" else " q90"
    print(f"corpus: {len(sources)} {image_format.upper()}s {WIDTH}x{HEIGHT}{alpha}, {size:.1f} MB each "
          f"({len(missing)} generated in {time.perf_counter() - started:.1f} s)")
    return sources


def run_ours(sources, output: Path, settings, options) -> tuple[float, float]:
    """Best images/s over the rounds: wall clock, and CPU-bound capacity (cores / CPU seconds per image)."""
    jobs = [(source, str(output), settings) for source in sources]
    rates, cpu_rates = [], []
    with Pool(options.workers, initializer=_init_worker) as pool:
        pool.map(_render, jobs[: options.workers * 2])  # warm up: imports, ICC profiles
        for _ in range(options.rounds):
            started = time.perf_counter()
            timings = pool.map(_render, jobs, chunksize=1)
            rates.append(len(jobs) / (time.perf_counter() - started))
            cpu_rates.append(options.workers / (sum(cpu for _, cpu in timings) / len(timings)))
    return max(rates), max(cpu_rates)


def sharp_missing() -> str | None:
    """Why sharp cannot run here (with how to fix it), or None."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm), then: npm ci --prefix bench"
    if not (BENCH / "node_modules" / "sharp").is_dir():
        return "sharp is not installed: npm ci --prefix bench"
    return None


def run_sharp(sources, settings, options) -> tuple[float, float]:
    command = ["node", str(SHARP_SCRIPT), "--workers", str(options.workers), "--rounds", str(options.rounds),
               "--preview", str(settings.preview.size), "--thumbnail", str(settings.thumbnail.size),
               "--quality", str(settings.preview.quality), *sources]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    rates = [entry["images"] / entry["seconds"] for entry in report["rounds"]]
    cpu_rates = [options.workers / (entry["cpuSeconds"] / entry["images"]) for entry in report["rounds"]]
    return max(rates), max(cpu_rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="distinct photos per format in the corpus")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="worker processes (default: cores)")
    parser.add_argument("--rounds", type=int, default=2, help="times the corpus is processed; the best counts")
    parser.add_argument("--formats", default="jpeg,png", help="comma-separated: jpeg, png")
    parser.add_argument("--corpus", help="keep the generated corpus in this folder and reuse it next time")
    options = parser.parse_args()

    import django

    django.setup()
    from media_app.services.thumbnails import ImageSettings
    from settings_app.services import defaults

    settings = ImageSettings.from_config(defaults())  # webp 250 q80 + jpeg 1440 q80, Display P3 preferred
    if settings.thumbnail.quality != settings.preview.quality:
        sys.exit("the sharp script takes one quality for both outputs; the defaults changed")
    missing_sharp = sharp_missing()
    print(f"outputs: thumbnail {settings.thumbnail.format} {settings.thumbnail.size} "
          f"q{settings.thumbnail.quality}, preview {settings.preview.format} {settings.preview.size} "
          f"q{settings.preview.quality}, thumbhash; {options.workers} workers; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    if missing_sharp:
        print(f"sharp: not run — {missing_sharp}")
    with tempfile.TemporaryDirectory(prefix="bench-thumbnails-") as folder:
        corpus_root = Path(options.corpus or Path(folder) / "corpus")
        for image_format in options.formats.split(","):
            sources = make_corpus(corpus_root / image_format, image_format, options.images, options.workers)
            ours, ours_cpu = run_ours(sources, Path(folder) / "thumbs", settings, options)
            line = f"RESULT {image_format}: ours {ours:.2f} images/s wall, {ours_cpu:.2f} CPU-bound"
            if not missing_sharp:
                theirs, theirs_cpu = run_sharp(sources, settings, options)
                line += (f"; sharp {theirs:.2f} wall, {theirs_cpu:.2f} CPU-bound; "
                         f"ratio ours/sharp {ours / theirs:.2f}x wall, {ours_cpu / theirs_cpu:.2f}x CPU")
            print(line, flush=True)
    # Other processes on the machine slow the wall clock; CPU time per image is what the work costs.
    print(f"CPU-bound = workers / CPU seconds per image (capacity on otherwise idle cores); "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
