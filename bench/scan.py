"""External library rescan speed: 100,000 unchanged files, through the real scan service and a real
(temporary) SQLite database.

    .venv/bin/python bench/scan.py [--files 100000]

Builds a folder tree of small placeholder media files (1,000 per folder) plus the NAS clutter the default
exclusion patterns skip, imports it once (timed), then rescans it unchanged (the figure that matters: a
nightly scan of a library where nothing happened)."""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

PER_FOLDER = 1000


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

        started = time.perf_counter()
        first = scan_library(library.id)
        print(f"first scan (import): {first.new} new in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        again = scan_library(library.id)
        elapsed = time.perf_counter() - started
        assert (again.new, again.changed, again.offline, again.unchanged) == (0, 0, 0, options.files), again
        assert Asset.objects.count() == options.files
        print(f"RESULT: rescan of {again.unchanged} unchanged files in {elapsed:.2f} s "
              f"({again.unchanged / elapsed:,.0f} files/s)")


if __name__ == "__main__":
    main()
