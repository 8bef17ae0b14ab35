"""External library rescan speed: 100,000 unchanged files, through the real scan service and a real
(temporary) SQLite database.

    .venv/bin/python bench/scan.py [--files 100000]

Builds a folder tree of small placeholder media files (1,000 per folder) plus the NAS clutter the default
exclusion patterns skip, imports it once (timed), then rescans it unchanged (the figure that matters: a
nightly scan of a library where nothing happened)."""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

PER_FOLDER = 1000


def bare_walk(root: str) -> int:
    """The floor a scan is measured against: os.scandir over every folder and a stat of every file."""
    count, stack = 0, [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat()
                    count += 1
    return count


def timed(function) -> tuple[float, float]:
    """(wall, CPU) seconds of one call. CPU time (user + system, so the stat calls count) is what a busy
    shared machine disturbs least."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def build_tree(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"{index // PER_FOLDER:04d}"
        if index % PER_FOLDER == 0:
            folder.mkdir(parents=True)
            (folder / "@eaDir").mkdir()
            (folder / "@eaDir" / "SYNOFILE_THUMB_M.jpg").write_bytes(b"thumb")
        extension = ".mp4" if index % 10 == 0 else ".jpg"
        (folder / f"IMG_{index:06d}{extension}").write_bytes(index.to_bytes(4, "big"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="rescans and bare walks, interleaved (medians)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-scan-") as folder:
        os.environ["DATA_DIR"] = str(Path(folder) / "data")
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from media_app.models import Asset
        from media_app.services.libraries import save_library, scan_library

        call_command("migrate", verbosity=0)
        owner = get_user_model().objects.create_user("bench@example.com", "bench-password", name="Bench")
        root = Path(folder) / "library"
        started = time.perf_counter()
        build_tree(root, options.files)
        print(f"tree: {options.files} files in {options.files // PER_FOLDER} folders "
              f"(built in {time.perf_counter() - started:.1f} s)")
        library = save_library(owner=owner, name="Bench", import_paths=[str(root)])

        import resource

        started = time.perf_counter()
        first = scan_library(library.id)
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"first scan (import): {first.new} new in {elapsed:.1f} s ({first.new / elapsed:,.0f} files/s), "
              f"peak memory of the process {peak_mb:.0f} MB")

        def rescan():
            again = scan_library(library.id)
            assert (again.new, again.changed, again.offline, again.unchanged) == (0, 0, 0, options.files), again

        # Interleaved so that a load spike on a shared machine hits both sides alike; the ratio is the figure.
        scans, walks = [], []
        for _ in range(options.repeat):
            scans.append(timed(rescan))
            walks.append(timed(lambda: bare_walk(str(root))))
        assert Asset.objects.count() == options.files
        for index, kind in enumerate(("wall", "CPU")):
            scan, walk = [times[index] for times in scans], [times[index] for times in walks]
            ratios = [one / other for one, other in zip(scan, walk, strict=True)]
            print(f"{kind} s: bare scandir+stat walk {spread(walk)}; rescan {spread(scan)}, "
                  f"{options.files / statistics.median(scan):,.0f} files/s")
            print(f"RESULT ({kind}): rescan / bare walk = {statistics.median(scan) / statistics.median(walk):.2f}x "
                  f"(per-run ratios {min(ratios):.2f}-{max(ratios):.2f}; goal <= 2x)")
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

if __name__ == "__main__":
    main()
