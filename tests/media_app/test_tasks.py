"""The media job chain with real `manage.py runjobs` workers on this test's database: upload and library
scan -> metadata extraction -> thumbnails on disk; Generate Thumbnails ALL after a size change; a user
purge removes uploads and generated files but never library files."""

import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jobs_app import services as job_services
from jobs_app.handlers import get_handler
from jobs_app.models import Job
from media_app.models import Asset, Library
from media_app.services import libraries, thumbnails
from media_app.services.upload import store_upload
from ml_client.client import ML_QUEUES
from settings_app.services import save_values
from tests.jobs_app import conftest as jobs_fixtures
from tests.jobs_app.conftest import wait_for
from users_app.services import purge_user

from .conftest import PHOTOS

start_worker = jobs_fixtures.start_worker  # real `manage.py runjobs` processes (a fixture)
PHOTO_A, PHOTO_B = PHOTOS / "mongolels.jpg", PHOTOS / "tanners_ridge.jpg"


def upload(owner, path: Path):
    return store_upload(owner, SimpleUploadedFile(path.name, path.read_bytes()))


def short_side(relative_path: str) -> int:
    with Image.open(thumbnails.absolute(relative_path)) as image:
        return min(image.size)


def all_done(*ids) -> bool:
    assets = Asset.objects.filter(pk__in=ids)
    # Face detection, smart search and OCR follow new uploads; with no machine-learning server here their
    # jobs wait (held queues).
    return len(assets) == len(ids) and all(asset.thumbnails_generated_at for asset in assets) and not \
        Job.objects.filter(status__in=Job.PENDING).exclude(queue__in=ML_QUEUES).exists()


def failed_jobs_text() -> str:
    return "\n".join(job.error for job in Job.objects.filter(status=Job.FAILED))


def test_real_handlers_replace_the_placeholders():
    for name in ("AssetExtractMetadata", "AssetGenerateThumbnails", "LibrarySyncFiles"):
        assert not get_handler(name).placeholder, name


@pytest.mark.django_db(transaction=True)
def test_upload_runs_metadata_then_thumbnails_in_a_worker(user, shared_media, start_worker):
    first, second = upload(user, PHOTO_A), upload(user, PHOTO_B)
    assert first.status == second.status == "created"
    assert Job.objects.filter(name="AssetExtractMetadata").count() == 2
    start_worker()

    wait_for(lambda: all_done(first.asset_id, second.asset_id), timeout=60, message="the chain to finish")
    assert not failed_jobs_text()
    for result in (first, second):
        asset = Asset.objects.get(pk=result.asset_id)
        assert asset.metadata_extracted_at and asset.width and asset.height
        assert thumbnails.absolute(asset.thumbnail_path).is_file()
        assert thumbnails.absolute(asset.preview_path).is_file()
        assert asset.thumbnail_path.endswith(".webp") and short_side(asset.thumbnail_path) == min(
            250, asset.width, asset.height)
        assert asset.thumbhash


@pytest.mark.django_db(transaction=True)
def test_generate_thumbnails_all_regenerates_at_the_new_size(user, admin_user, shared_media, start_worker):
    result = upload(user, PHOTO_A)
    start_worker()
    wait_for(lambda: all_done(result.asset_id), timeout=60, message="the first thumbnails")
    asset = Asset.objects.get(pk=result.asset_id)
    assert short_side(asset.thumbnail_path) == 250
    first_generated = asset.thumbnails_generated_at

    assert save_values({"image.thumbnail.size": 120}, user=admin_user).ok
    job_services.start_queue("thumbnailGeneration", True, user=admin_user)
    wait_for(lambda: Asset.objects.get(pk=asset.pk).thumbnails_generated_at > first_generated and all_done(asset.pk),
             timeout=60, message="Generate Thumbnails ALL")
    asset.refresh_from_db()
    assert short_side(asset.thumbnail_path) == 120
    # MISSING now finds nothing to do: every file exists.
    assert thumbnails.asset_ids_to_generate(False) == []


@pytest.mark.django_db(transaction=True)
def test_library_scan_queue_imports_new_files_through_the_chain(user, admin_user, shared_media, tmp_path,
                                                                start_worker):
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(PHOTO_A, folder / "a.jpg")
    library = libraries.save_library(owner=user, name="Photos", import_paths=[str(folder)])
    start_worker()

    # What the External library cron starts (jobs_app.schedules): the library queue, MISSING mode.
    job_services.start_queue("library", False, user=admin_user)
    wait_for(lambda: Asset.objects.filter(library=library).exists()
             and all_done(*Asset.objects.filter(library=library).values_list("id", flat=True)),
             timeout=60, message="the scan and its chain")
    asset = Asset.objects.get(library=library)
    assert asset.original_path == str(folder / "a.jpg")
    assert thumbnails.absolute(asset.thumbnail_path).is_file()
    library.refresh_from_db()
    assert library.last_scan_new == 1 and library.last_scanned_at

    # A second file appears; the next scan imports only it.
    shutil.copy(PHOTO_B, folder / "b.jpg")
    job_services.start_queue("library", False, user=admin_user)
    wait_for(lambda: Asset.objects.filter(library=library).count() == 2
             and all_done(*Asset.objects.filter(library=library).values_list("id", flat=True)),
             timeout=60, message="the second scan")
    library.refresh_from_db()
    assert (library.last_scan_new, library.last_scan_changed) == (1, 0)
    assert not failed_jobs_text()


@pytest.mark.django_db(transaction=True)
def test_metadata_all_does_not_chain_to_thumbnails(user, shared_media):
    result = upload(user, PHOTO_A)
    Job.objects.all().delete()
    job = Job.objects.create(queue="metadataExtraction", name="AssetExtractMetadata", data={"id": result.asset_id})
    get_handler("AssetExtractMetadata").func(job)
    assert Asset.objects.get(pk=result.asset_id).metadata_extracted_at
    assert not Job.objects.filter(name="AssetGenerateThumbnails").exists()


@pytest.mark.django_db(transaction=True)
def test_handlers_of_removed_assets_do_nothing(shared_media):
    job = Job.objects.create(queue="thumbnailGeneration", name="AssetGenerateThumbnails",
                             data={"id": "00000000-0000-0000-0000-000000000000"})
    assert "no longer exists" in get_handler("AssetGenerateThumbnails").func(job)


@pytest.mark.django_db(transaction=True)
def test_user_purge_removes_uploads_and_thumbnails_but_never_library_files(user, shared_media, tmp_path):
    uploaded = upload(user, PHOTO_A)
    thumbnails.generate_asset(uploaded.asset_id)
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(PHOTO_B, folder / "b.jpg")
    library = libraries.save_library(owner=user, name="Photos", import_paths=[str(folder)])
    libraries.scan_library(library.pk)
    library_asset = Asset.objects.get(library=library)
    thumbnails.generate_asset(library_asset.pk)
    upload_asset = Asset.objects.get(pk=uploaded.asset_id)
    generated = [thumbnails.absolute(path) for asset in (upload_asset, Asset.objects.get(pk=library_asset.pk))
                 for path in (asset.thumbnail_path, asset.preview_path)]
    assert all(path.is_file() for path in generated)

    purge_user(user)

    assert not Path(upload_asset.original_path).exists()
    assert not any(path.exists() for path in generated)
    assert (folder / "b.jpg").read_bytes() == PHOTO_B.read_bytes()
    assert not Asset.objects.exists() and not Library.objects.exists()
