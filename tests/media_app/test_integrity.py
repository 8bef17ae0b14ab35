"""Integrity checks on a real media folder: planted missing, untracked and corrupted files are reported and
listed on the administrator's page; the actions act after a confirmation; the checksum check goes on from
its checkpoint; external library folders are never touched; the schedules follow the settings."""

from pathlib import Path

import pytest

from jobs_app import schedules
from jobs_app.handlers import get_handler
from jobs_app.models import Job, Schedule
from media_app.models import Asset, IntegrityReport, Library
from media_app.services import integrity
from settings_app.services import get_config, save_values
from tests.media_app.photo_assets import PHOTOS, add_asset, generated_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def run(name: str) -> str:
    handler = get_handler(name)
    assert handler is not None and not handler.placeholder, name
    return handler.func(Job(queue="integrityCheck", name=name, data={}))


@pytest.fixture
def three_assets(admin_user):
    return [add_asset(admin_user, PHOTOS / name) for name in ("gps-datetime.jpg", "tanners_ridge.jpg", "denali.webp")]


def test_missing_files_are_reported_and_listed(admin_user, admin_client, three_assets):
    gone_original, gone_preview, fine = three_assets
    Path(gone_original.original_path).unlink()
    preview = Path(generated_files(gone_preview)[1])
    preview.unlink()

    assert run("IntegrityMissingFiles") == "2 missing file(s)"
    reports = {(report.path, report.file_kind, report.asset_id) for report in IntegrityReport.objects.all()}
    assert reports == {(gone_original.original_path, "original", gone_original.id),
                       (str(preview), "preview", gone_preview.id)}
    page = admin_client.get("/admin/integrity/").content.decode()
    assert gone_original.original_path in page and str(preview) in page
    assert 'data-count="missing_file">2<' in page

    preview.write_bytes(b"back")  # fixed by hand: the next run drops it
    assert run("IntegrityMissingFiles") == "1 missing file(s)"


def test_regenerate_queues_thumbnails_and_trash_needs_a_confirmation(admin_user, admin_client, three_assets):
    gone_original, gone_preview, fine = three_assets
    Path(gone_original.original_path).unlink()
    generated_files(gone_preview)[0].unlink()
    run("IntegrityMissingFiles")

    response = admin_client.post("/admin/integrity/regenerate/")
    assert response.status_code == 302
    assert {job.data["id"] for job in Job.objects.filter(name="AssetGenerateThumbnails")} == {str(gone_preview.id)}

    asking = admin_client.post("/admin/integrity/trash/")
    assert asking.status_code == 200 and 'data-confirm="trash"' in asking.content.decode()
    assert not Asset.objects.filter(deleted_at__isnull=False).exists()  # nothing happened before the "yes"

    admin_client.post("/admin/integrity/trash/", {"confirmed": "yes"})
    assert list(Asset.objects.filter(deleted_at__isnull=False).values_list("id", flat=True)) == [gone_original.id]
    assert Asset.objects.get(pk=fine.pk).deleted_at is None


def test_untracked_files_are_reported_and_deleted_after_confirmation(admin_user, admin_client, three_assets,
                                                                     media_root, tmp_path):
    stray_upload = Path(media_root) / "upload" / str(admin_user.pk) / "left-behind.jpg"
    stray_upload.write_bytes(b"x")
    stray_thumb = Path(media_root) / "thumbs" / "old" / "orphan.webp"
    stray_thumb.parent.mkdir(parents=True)
    stray_thumb.write_bytes(b"y")
    partial = stray_upload.with_name(".upload-123")
    partial.write_bytes(b"partial")
    external = tmp_path / "external"
    external.mkdir()
    (external / "not-imported.jpg").write_bytes(b"z")
    Library.objects.create(owner=admin_user, name="Ext", import_paths=[str(external)])

    assert run("IntegrityUntrackedFiles") == "2 untracked file(s)"
    assert set(IntegrityReport.objects.values_list("path", flat=True)) == {str(stray_upload), str(stray_thumb)}
    assert str(stray_upload) in admin_client.get("/admin/integrity/").content.decode()

    asking = admin_client.post("/admin/integrity/delete-untracked/")
    assert 'data-confirm="delete-untracked"' in asking.content.decode() and stray_upload.exists()
    admin_client.post("/admin/integrity/delete-untracked/", {"confirmed": "yes"})
    assert not stray_upload.exists() and not stray_thumb.exists()
    assert partial.exists() and (external / "not-imported.jpg").exists()
    assert all(Path(asset.original_path).exists() for asset in three_assets)
    assert all(path.exists() for asset in three_assets for path in generated_files(asset))
    assert not IntegrityReport.objects.exists()


def test_encoded_videos_library_originals_and_person_thumbnails_are_tracked(admin_user, admin_client, three_assets,
                                                                           media_root):
    from people_app.models import Person

    media = Path(media_root)
    video, placed, _ = three_assets
    encoded = media / "encoded-video" / str(admin_user.pk) / "ab" / f"{video.id}.mp4"
    encoded.parent.mkdir(parents=True)
    encoded.write_bytes(b"mp4")
    Asset.objects.filter(pk=video.pk).update(encoded_video_path=str(encoded.relative_to(media)))
    in_library = media / "library" / str(admin_user.pk) / "2024" / "placed.jpg"  # the storage template's folder
    in_library.parent.mkdir(parents=True)
    Path(placed.original_path).rename(in_library)
    Asset.objects.filter(pk=placed.pk).update(original_path=str(in_library))
    face_picture = media / "thumbs" / str(admin_user.pk) / "people" / "someone.jpeg"
    face_picture.parent.mkdir(parents=True)
    face_picture.write_bytes(b"jpeg")
    Person.objects.create(owner=admin_user, thumbnail_path=str(face_picture.relative_to(media)))
    encoding_now = encoded.with_name(f"{video.id}.partial.mp4")  # a transcode in flight
    encoding_now.write_bytes(b"half")
    strays = [media / "encoded-video" / "gone.mp4", media / "library" / str(admin_user.pk) / "left.jpg"]
    for stray in strays:
        stray.write_bytes(b"x")

    run("IntegrityUntrackedFiles")
    assert set(IntegrityReport.objects.values_list("path", flat=True)) == {str(stray) for stray in strays}
    admin_client.post("/admin/integrity/delete-untracked/", {"confirmed": "yes"})
    assert not any(stray.exists() for stray in strays)
    assert encoded.exists() and in_library.exists() and face_picture.exists() and encoding_now.exists()

    encoded.unlink()
    assert run("IntegrityMissingFiles") == "1 missing file(s)"
    assert list(IntegrityReport.objects.values_list("file_kind", "asset_id")) == [("encodedVideo", video.id)]
    admin_client.post("/admin/integrity/regenerate/")
    assert [job.data["id"] for job in Job.objects.filter(name="AssetEncodeVideo")] == [str(video.id)]


def test_a_file_claimed_after_the_check_is_not_deleted(admin_user, three_assets, media_root):
    stray = Path(media_root) / "upload" / str(admin_user.pk) / "claimed-later.jpg"
    stray.write_bytes(b"x")
    run("IntegrityUntrackedFiles")
    Asset.objects.filter(pk=three_assets[0].pk).update(original_path=str(stray))
    assert integrity.delete_untracked_files() == 0 and stray.exists()


def test_corrupted_originals_are_reported(admin_user, admin_client, three_assets):
    corrupted = three_assets[1]
    with open(corrupted.original_path, "r+b") as original:
        original.seek(100)
        original.write(b"\0\0\0\0")
    assert run("IntegrityChecksumFiles").startswith("re-hashed 3 original(s), 1 mismatch(es)")
    assert list(IntegrityReport.objects.values_list("type", "asset_id")) == [("checksum_mismatch", corrupted.id)]
    assert corrupted.original_path in admin_client.get("/admin/integrity/").content.decode()


def test_the_checksum_check_resumes_from_its_checkpoint(admin_user, three_assets):
    save_values({"integrityChecks.checksumFiles.percentageLimit": 0.34}, user=admin_user)  # one of three per run
    ordered = sorted(three_assets, key=lambda asset: str(asset.id))
    for asset in ordered:  # all corrupted: each run reports exactly the ones it re-hashed
        Path(asset.original_path).write_bytes(b"changed")

    seen = []
    for expected_finished in (False, False, True):
        result = integrity.check_checksums()
        assert (result.checked, result.finished) == (1, expected_finished)
        seen.append(set(IntegrityReport.objects.values_list("asset_id", flat=True)))
    assert seen == [{ordered[0].id}, {ordered[0].id, ordered[1].id}, {asset.id for asset in ordered}]
    assert integrity.check_checksums().checked == 1  # covered: starts over from the first asset


def test_the_time_limit_stops_a_run(admin_user, three_assets):
    save_values({"integrityChecks.checksumFiles.timeLimit": 1000}, user=admin_user)
    ticks = iter([0.0, 0.5, 2.0, 3.0, 4.0])  # the second asset is looked at after the 1 s limit
    result = integrity.check_checksums(clock=lambda: next(ticks))
    assert (result.checked, result.finished) == (1, False)


def test_schedules_follow_the_integrity_settings(admin_user):
    schedules.tick(fire=False)
    rows = {row.name: row for row in Schedule.objects.filter(name__startswith="integrity")}
    assert {name: row.cron for name, row in rows.items()} == {
        "integrityMissingFiles": "0 03 * * *", "integrityUntrackedFiles": "0 03 * * *",
        "integrityChecksumFiles": "0 03 * * *"}
    save_values({"integrityChecks.untrackedFiles.enabled": False,
                 "integrityChecks.checksumFiles.cronExpression": "30 4 * * *"}, user=admin_user)
    assert get_config().integrityChecks.untrackedFiles.enabled is False
    schedules.tick(fire=False)
    assert Schedule.objects.get(name="integrityUntrackedFiles").cron == ""
    checksum = Schedule.objects.get(name="integrityChecksumFiles")
    assert checksum.cron == "30 4 * * *" and (checksum.next_run_at.hour, checksum.next_run_at.minute) == (4, 30)


def test_due_schedules_queue_the_checks_on_their_queue(admin_user):
    schedules.tick(fire=False)
    Schedule.objects.filter(name__startswith="integrity").update(next_run_at=Schedule.objects.first().next_run_at
                                                                 .replace(year=2000))
    schedules.tick()
    assert set(Job.objects.filter(queue="integrityCheck").values_list("name", flat=True)) == {
        "IntegrityMissingFiles", "IntegrityUntrackedFiles", "IntegrityChecksumFiles"}


def test_check_now_queues_the_three_checks(admin_client):
    assert admin_client.post("/admin/integrity/check/").status_code == 302
    assert Job.objects.filter(queue="integrityCheck").count() == 3
