"""Storage Template Migration speed: assets moved per second through the real migration (move records
written, renames, paths updated and records removed, a batch of assets per database transaction) for small
files on one file system, against plain os.rename of the same number of files, with a real (temporary)
SQLite database.

    .venv/bin/python bench/migration.py [--files 10000]
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-migration-") as folder:
        os.environ["DATA_DIR"] = str(Path(folder) / "data")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from media_app.models import Asset
        from media_app.services import storage
        from settings_app.services import refresh_config, save_values
        from users_app.models import User

        owner = User.objects.create_user("bench@example.com", "bench-password", name="Bench")
        upload = Path(settings.MEDIA_ROOT) / "upload" / str(owner.pk)
        upload.mkdir(parents=True)
        start_date = datetime(2020, 1, 1, tzinfo=UTC)
        assets = []
        for index in range(options.files):
            content = index.to_bytes(8, "big")
            path = upload / f"{index:06d}.jpg"
            path.write_bytes(content)
            assets.append(Asset(owner=owner, type="image", original_path=str(path), original_filename=path.name,
                                checksum=hashlib.sha1(content).hexdigest(), file_size=len(content),
                                taken_at=start_date + timedelta(hours=7 * index)))
        Asset.objects.bulk_create(assets, batch_size=1000)
        assert save_values({"storageTemplate.enabled": True,
                            "storageTemplate.template": "{{y}}/{{MM}}/{{filename}}"}).ok
        refresh_config()

        started = time.perf_counter()
        report = storage.migrate_all()
        migration_seconds = time.perf_counter() - started
        assert report.moved == options.files, report.moved

        plain_from = Path(folder) / "plain-from"
        plain_to = Path(folder) / "plain-to"
        plain_from.mkdir()
        plain_to.mkdir()
        for index in range(options.files):
            (plain_from / f"{index:06d}.jpg").write_bytes(index.to_bytes(8, "big"))
        started = time.perf_counter()
        for index in range(options.files):
            os.rename(plain_from / f"{index:06d}.jpg", plain_to / f"{index:06d}.jpg")
        rename_seconds = time.perf_counter() - started

    migration_rate, rename_rate = options.files / migration_seconds, options.files / rename_seconds
    print(f"{options.files} assets: migration {migration_seconds:.2f} s = {migration_rate:,.0f} assets/s; "
          f"plain os.rename {rename_seconds:.3f} s = {rename_rate:,.0f} files/s; "
          f"the migration takes {rename_rate / migration_rate:,.0f}x as long as bare renames")


if __name__ == "__main__":
    main()
