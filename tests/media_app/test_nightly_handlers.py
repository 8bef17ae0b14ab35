"""The nightly background jobs that act on assets, run through their registered handlers: the trash purge
(Trash days) and the quota usage sync."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs_app.handlers import get_handler
from jobs_app.models import Job
from media_app.models import Asset, Library
from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, add_asset, generated_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def run(name: str) -> str:
    handler = get_handler(name)
    assert handler is not None and not handler.placeholder, name
    return handler.func(Job(queue="backgroundTask", name=name, data={}))


def test_the_nightly_trash_purge_follows_trash_days(admin_user):
    old = add_asset(admin_user, PHOTOS / "gps-datetime.jpg")
    recent = add_asset(admin_user, PHOTOS / "tanners_ridge.jpg")
    Asset.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    Asset.objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(days=29))

    assert run("AssetDeleteCheck") == "purged 1 asset(s) from the trash"
    assert list(Asset.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Path(old.original_path).exists() and not any(p.exists() for p in generated_files(old))

    save_values({"trash.days": 10}, user=admin_user)  # read at the next run
    assert run("AssetDeleteCheck") == "purged 1 asset(s) from the trash"
    assert not Asset.objects.exists()


def test_the_purge_never_removes_external_library_files(admin_user):
    library = Library.objects.create(owner=admin_user, name="NAS", import_paths=[str(PHOTOS)])
    external = add_asset(admin_user, PHOTOS / "gps-datetime.jpg", library=library)
    Asset.objects.filter(pk=external.pk).update(deleted_at=timezone.now() - timedelta(days=40))
    assert run("AssetDeleteCheck") == "purged 1 asset(s) from the trash"
    assert Path(external.original_path).exists()  # the test data itself, untouched


def test_quota_usage_counts_uploaded_originals_only(admin_user, user):
    uploaded = add_asset(user, PHOTOS / "gps-datetime.jpg")
    library = Library.objects.create(owner=user, name="NAS", import_paths=[str(PHOTOS)])
    add_asset(user, PHOTOS / "tanners_ridge.jpg", library=library)

    assert run("UserSyncUsage") == "quota usage recomputed for 1 user(s)"
    user.refresh_from_db()
    admin_user.refresh_from_db()
    assert user.quota_usage_in_bytes == uploaded.file_size == Path(uploaded.original_path).stat().st_size
    assert admin_user.quota_usage_in_bytes == 0
    assert run("UserSyncUsage") == "quota usage recomputed for 0 user(s)"  # nothing changed since
