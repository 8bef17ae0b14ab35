"""Sidecars and live photos with real files (a JPEG carrying Apple's maker note, a QuickTime video made by the
bundled ffmpeg, XMP sidecars): found at upload and library scan, read by metadata extraction, the live photo's
video linked to its still and hidden from the timeline, both moved by the storage template together with the
still (clash numbering, interrupted moves completed or rolled back), and counted as tracked by the integrity
checks."""

import os
import struct
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jobs_app.services import enqueue
from media_app.models import Asset, IntegrityReport, MoveHistory
from media_app.services import companions, ffmpeg, integrity, metadata, storage, trash
from media_app.services.libraries import save_library, scan_library
from media_app.services.timeline import timeline_assets
from media_app.services.upload import store_upload
from media_app.tasks import queue_metadata_many
from settings_app.services import refresh_config, save_values
from users_app.models import ApiKey

from .test_storage_template import enable, run_jobs

CID = "5D5B7B3A-2E1C-4B8E-9F0A-1C2D3E4F5A6B"
TEMPLATE = "{{y}}/{{MM}}/{{filename}}"


def apple_maker_note(content_identifier: str) -> bytes:
    """Apple's maker note as an iPhone writes it: header, version, byte order, then one IFD entry
    (ContentIdentifier, ASCII) whose value lies after the IFD, at an offset from the note's start."""
    value = content_identifier.encode() + b"\x00"
    header = b"Apple iOS\x00\x00\x01MM"
    value_offset = len(header) + 2 + 12 + 4
    return header + struct.pack(">HHHII", 1, 0x0011, 2, len(value), value_offset) + b"\x00" * 4 + value


def live_still(path: Path, content_identifier: str | None = CID, color="orange") -> Path:
    image = Image.new("RGB", (64, 48), color)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 15"
    sub = exif.get_ifd(0x8769)
    sub[0x9003], sub[0x9011] = "2023:05:06 07:08:09", "+02:00"
    if content_identifier:
        sub[0x927C] = apple_maker_note(content_identifier)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, exif=exif)
    return path


def motion_video(path: Path, content_identifier: str | None = CID, seconds: float = 1) -> Path:
    tags = ["-metadata", "com.apple.quicktime.creationdate=2023-05-06T07:08:09+0200"]
    if content_identifier:
        tags += ["-metadata", f"com.apple.quicktime.content.identifier={content_identifier}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.run(["-y", "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=64x48:rate=10", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", "-movflags", "use_metadata_tags", *tags, str(path)])
    return path


def xmp(date="2019-03-04T05:06:07+01:00", rating=4) -> bytes:
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 exif:DateTimeOriginal="{date}" xmp:Rating="{rating}" exif:GPSLatitude="60,10.2N" exif:GPSLongitude="24,56.4E"/>
</rdf:RDF></x:xmpmeta>""".encode()


@pytest.fixture(autouse=True)
def _no_machine_learning(db):
    assert save_values({"machineLearning.enabled": False}).ok
    refresh_config()


@pytest.fixture(scope="module")
def live_pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("live")
    return live_still(folder / "IMG_0001.JPG"), motion_video(folder / "IMG_0001.MOV")


def store(owner, path: Path, capture, sidecar: bytes | None = None) -> Asset:
    with capture(execute=True):
        result = store_upload(owner, SimpleUploadedFile(path.name, path.read_bytes()),
                              sidecar=SimpleUploadedFile(path.name + ".xmp", sidecar) if sidecar else None)
    assert result.status == "created", result
    return Asset.objects.get(pk=result.asset_id)


def test_the_content_identifier_is_read_from_the_still_and_its_video(live_pair):
    still, video = live_pair
    assert metadata.read_metadata(still).live_photo_cid == CID
    assert metadata.read_metadata(video).live_photo_cid == CID
    assert metadata.apple_content_identifier(b"Nikon\x00\x02\x10\x00\x00") == ""
    assert metadata.apple_content_identifier(apple_maker_note(CID)[:20]) == ""  # truncated


def test_an_uploaded_live_photo_is_linked_hidden_and_placed_as_one(user, media_root, live_pair,
                                                                    django_capture_on_commit_callbacks):
    enable(TEMPLATE)
    still_file, video_file = live_pair
    video = store(user, video_file, django_capture_on_commit_callbacks)  # the motion part may come first
    still = store(user, still_file, django_capture_on_commit_callbacks)
    run_jobs()
    still.refresh_from_db()
    video.refresh_from_db()
    assert still.live_photo_video == video and still.live_photo_cid == video.live_photo_cid == CID
    assert list(timeline_assets(user)) == [still]  # the video is shown through its still only
    root = storage.user_root(user)
    assert Path(still.original_path) == root / "2023/05/IMG_0001.jpg"
    assert Path(video.original_path) == root / "2023/05/IMG_0001.mov"  # the still's name, its own extension
    assert Path(video.original_path).read_bytes() == video_file.read_bytes()
    assert not MoveHistory.objects.exists()
    assert not list((Path(media_root) / "upload").rglob("*.*"))  # nothing left behind

    enable("{{y}}/{{filetype}}/{{filename}}")  # the video follows the still, not its own type's folder
    report = storage.migrate_all()
    still.refresh_from_db()
    video.refresh_from_db()
    assert (report.moved, report.in_place, report.skipped_count) == (1, 0, 0)
    assert Path(still.original_path) == root / "2023/IMG/IMG_0001.jpg"
    assert Path(video.original_path) == root / "2023/IMG/IMG_0001.mov" and Path(video.original_path).is_file()
    assert not (root / "2023/05").exists()


def test_an_uploaded_sidecar_is_read_and_travels_with_its_photo(user, media_root, live_pair,
                                                                  django_capture_on_commit_callbacks):
    enable(TEMPLATE)
    asset = store(user, live_pair[0], django_capture_on_commit_callbacks, sidecar=xmp())
    assert asset.sidecar_path == asset.original_path + ".xmp" and Path(asset.sidecar_path).is_file()
    run_jobs()
    asset.refresh_from_db()
    # The sidecar wins over the file's own tags (the photo says 2023, the sidecar 2019).
    assert asset.taken_at.isoformat() == "2019-03-04T04:06:07+00:00" and asset.rating == 4
    assert (round(asset.latitude, 2), round(asset.longitude, 2)) == (60.17, 24.94)
    new = storage.user_root(user) / "2019/03/IMG_0001.jpg"
    assert Path(asset.original_path) == new and Path(asset.sidecar_path) == Path(f"{new}.xmp")
    assert Path(asset.sidecar_path).read_bytes() == xmp()
    assert not list((Path(media_root) / "upload").rglob("*.xmp"))

    # The integrity check counts the sidecar as tracked, and a stray one as untracked.
    stray = new.with_name("stray.jpg.xmp")
    stray.write_bytes(xmp())
    assert integrity.check_untracked_files() == 1
    assert list(IntegrityReport.objects.values_list("path", flat=True)) == [str(stray)]


def test_the_clash_number_is_free_for_every_file_of_the_unit(user, media_root, live_pair,
                                                             django_capture_on_commit_callbacks):
    root = storage.user_root(user)
    # Only the video's name is taken at the planned place: still, video and sidecar all take +1.
    (root / "2023/05").mkdir(parents=True)
    (root / "2023/05/IMG_0001.mov").write_bytes(b"someone else's file")
    video = store(user, live_pair[1], django_capture_on_commit_callbacks)
    still = store(user, live_pair[0], django_capture_on_commit_callbacks, sidecar=xmp(date="2023-05-06T07:08:09"))
    run_jobs()
    enable(TEMPLATE)
    assert storage.migrate_all().moved == 1
    still.refresh_from_db()
    video.refresh_from_db()
    assert still.original_path == str(root / "2023/05/IMG_0001+1.jpg")
    assert still.sidecar_path == str(root / "2023/05/IMG_0001+1.jpg.xmp")
    assert video.original_path == str(root / "2023/05/IMG_0001+1.mov")
    assert (root / "2023/05/IMG_0001.mov").read_bytes() == b"someone else's file"
    assert storage.migrate_all().in_place == 1  # a re-run leaves the +1 names


@pytest.mark.parametrize("next_run", ["migration", "the video's own placement job"])
def test_an_interrupted_batch_with_companions_is_completed_or_rolled_back(next_run, user, media_root, live_pair,
                                                                          django_capture_on_commit_callbacks):
    """The state a crash leaves between the renames of a batch: the move rows written, the still and its
    sidecar renamed, the video not yet. The next run (of the whole migration, or of the single placement job
    of any file of the unit) completes the renamed ones, rolls back the video, then places the video beside
    its still."""
    video = store(user, live_pair[1], django_capture_on_commit_callbacks)
    still = store(user, live_pair[0], django_capture_on_commit_callbacks, sidecar=xmp(date="2023-05-06T07:08:09"))
    run_jobs()
    still = Asset.objects.select_related("owner", "live_photo_video").get(pk=still.pk)
    moves = storage.plan_moves(still, TEMPLATE, set())
    assert [(move.asset.pk, move.path_type) for move in moves] == [
        (still.pk, "original"), (video.pk, "original"), (still.pk, "sidecar")]
    for move in moves:
        MoveHistory.objects.create(asset=move.asset, path_type=move.path_type, old_path=move.old, new_path=move.new)
    for move in (moves[0], moves[2]):
        move.new.parent.mkdir(parents=True, exist_ok=True)
        os.rename(move.old, move.new)

    enable(TEMPLATE)
    if next_run == "migration":
        report = storage.migrate_all()
        assert report.recovered == 3 and report.moved == 1
    else:
        assert storage.place_asset_by_id(video.pk).outcome == "moved"
    assert not MoveHistory.objects.exists()
    still.refresh_from_db()
    video.refresh_from_db()
    assert [still.original_path, still.sidecar_path, video.original_path] == [str(move.new) for move in
                                                                             (moves[0], moves[2], moves[1])]
    assert all(Path(path).is_file() for path in (still.original_path, still.sidecar_path, video.original_path))


@pytest.mark.parametrize("renamed, database_follows, final", [
    (False, False, "old"), (True, False, "new"), (True, True, "new")])
def test_an_interrupted_sidecar_move_is_resolved(renamed, database_follows, final, user, media_root, make_asset,
                                                 tmp_path):
    photo = live_still(tmp_path / "a.jpg")
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_bytes(xmp())
    asset = make_asset(photo, sidecar_path=str(sidecar))
    new = storage.user_root(user) / "a.jpg.xmp"
    MoveHistory.objects.create(asset=asset, path_type="sidecar", old_path=sidecar, new_path=new)
    if renamed:
        new.parent.mkdir(parents=True)
        os.rename(sidecar, new)
    if database_follows:
        Asset.objects.filter(pk=asset.pk).update(sidecar_path=str(new))
    assert storage.recover_interrupted_moves(verify_hash=True) == 1
    asset.refresh_from_db()
    expected, other = (sidecar, new) if final == "old" else (new, sidecar)
    assert asset.sidecar_path == str(expected) and expected.read_bytes() == xmp() and not other.exists()
    assert asset.original_path == str(photo) and not MoveHistory.objects.exists()


def test_a_library_scan_finds_sidecars_and_links_live_photos_by_name(user, media_root, tmp_path):
    folder = tmp_path / "nas"
    live_still(folder / "trip/IMG_0002.jpg", content_identifier=None)
    motion_video(folder / "trip/IMG_0002.mov", content_identifier=None)  # no ContentIdentifier: same name
    live_still(folder / "trip/IMG_0003.jpg", content_identifier=None, color="blue")
    motion_video(folder / "trip/IMG_0003.mov", content_identifier=None, seconds=8)  # a clip, not a live photo
    (folder / "trip/IMG_0003.xmp").write_bytes(xmp(rating=2))  # the <name>.xmp form
    library = save_library(owner=user, name="NAS", import_paths=[str(folder)])
    enable(TEMPLATE)
    queue_metadata_many(scan_library(library.pk).to_process, "library")
    run_jobs()
    by_name = {Path(asset.original_path).name: asset for asset in Asset.objects.all()}
    assert by_name["IMG_0002.jpg"].live_photo_video == by_name["IMG_0002.mov"]
    assert by_name["IMG_0003.jpg"].live_photo_video is None
    assert by_name["IMG_0003.jpg"].sidecar_path == str(folder / "trip/IMG_0003.xmp")
    assert by_name["IMG_0003.jpg"].rating == 2
    assert {Path(asset.original_path).parent for asset in by_name.values()} == {folder / "trip"}  # never moved
    assert sorted(Path(asset.original_path).name for asset in timeline_assets(user)) == [
        "IMG_0002.jpg", "IMG_0003.jpg", "IMG_0003.mov"]


def test_the_sidecar_job_discovers_a_sidecar_added_later(user, media_root, make_asset, tmp_path):
    photo = live_still(tmp_path / "b.jpg", content_identifier=None)
    asset = make_asset(photo)
    assert companions.asset_ids_to_sync(False) == [asset.pk]
    (tmp_path / "b.jpg.xmp").write_bytes(xmp(rating=5))
    enqueue("sidecar", "SidecarQueueAll", {"force": False})
    outcomes = run_jobs()
    asset.refresh_from_db()
    assert "sidecar found: metadata extraction queued" in outcomes
    assert asset.sidecar_path == str(tmp_path / "b.jpg.xmp") and asset.rating == 5
    assert companions.asset_ids_to_sync(False) == [] and companions.asset_ids_to_sync(True) == [asset.pk]

    (tmp_path / "b.jpg.xmp").unlink()  # Sync notices a sidecar that is gone
    enqueue("sidecar", "SidecarQueueAll", {"force": True})
    run_jobs()
    asset.refresh_from_db()
    assert asset.sidecar_path == "" and asset.rating is None


def test_the_api_takes_immichs_sidecar_field(client, user, media_root, live_pair):
    _, secret = ApiKey.issue(user, "phone")
    still = live_pair[0]
    response = client.post("/api/assets", {"assetData": SimpleUploadedFile(still.name, still.read_bytes()),
                                           "sidecarData": SimpleUploadedFile("x.xmp", xmp())},
                           HTTP_X_API_KEY=secret)
    assert response.status_code == 201
    asset = Asset.objects.get(pk=response.json()["id"])
    assert Path(asset.sidecar_path).read_bytes() == xmp()


def test_the_motion_video_and_the_sidecar_go_wherever_the_still_goes(user, media_root, live_pair,
                                                                       django_capture_on_commit_callbacks):
    video = store(user, live_pair[1], django_capture_on_commit_callbacks)
    still = store(user, live_pair[0], django_capture_on_commit_callbacks, sidecar=xmp())
    run_jobs()
    assert trash.delete_assets(user, [still.pk]).trashed == 2  # the still and its motion video
    assert list(trash.trashed_assets(user)) == [still]
    assert trash.restore_assets(user, [still.pk]) == 2
    assert Asset.objects.filter(deleted_at__isnull=True).count() == 2
    files = [Path(still.original_path), Path(still.sidecar_path), Path(video.original_path)]
    trash.delete_assets(user, [still.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert trash.delete_from_trash(user, [still.pk]) == 2
    assert not Asset.objects.exists() and not any(path.exists() for path in files)
