"""Immich's own command-line tool (@immich/cli, pinned in package.json, run by Node 22 from the `node`
package) against a live server: login with an API key, a recursive upload of HEIC, JPEG and MP4 files, a
second run that finds every file already uploaded, and server-info printing this server's numbers."""

import hashlib
import os
import shutil
import subprocess

import pytest

from albums_app.models import Album
from media_app.models import Asset, AssetType
from settings_app.version_check import running_version
from tests.conftest import TESTDATA
from tests.node_packages import NODE_MODULES, node_22
from users_app.models import ApiKey

CLI = NODE_MODULES / "@immich" / "cli" / "bin" / "immich"
FILES = {"IMG_2682.heic": TESTDATA / "photos" / "IMG_2682.heic",
         "trips/tanners_ridge.jpg": TESTDATA / "photos" / "tanners_ridge.jpg",
         "trips/2022/clip.mp4": TESTDATA / "videos" / "h264_aac_640x360_3s.mp4"}


@pytest.fixture
def immich(live_server, tmp_path):
    """immich(*arguments) -> the CLI's completed process (its configuration in a folder of this test)."""
    node = node_22()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "IMMICH_CONFIG_DIR": str(tmp_path / "config"),
           "NO_COLOR": "1"}
    for name in ("IMMICH_INSTANCE_URL", "IMMICH_API_KEY"):
        env.pop(name, None)

    def run(*arguments):
        return subprocess.run([node, str(CLI), *arguments], env=env, capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture
def photo_folder(tmp_path):
    for name, source in FILES.items():
        (tmp_path / "photos" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / "photos" / name)
    (tmp_path / "photos" / "notes.txt").write_text("not a photo")
    return tmp_path / "photos"


@pytest.mark.django_db(transaction=True)
def test_the_immich_cli_logs_in_uploads_recursively_and_reports_the_server(immich, live_server, admin_user,
                                                                           photo_folder, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    _, secret = ApiKey.issue(admin_user, "cli")

    login = immich("login", f"{live_server.url}/api", secret)
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Logged in as admin@example.com" in login.stdout
    assert (tmp_path / "config" / "auth.yml").exists()

    first = immich("upload", "--recursive", "--no-progress", str(photo_folder))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Found 3 new files and 0 duplicates" in first.stdout
    assert "Successfully uploaded 3 new assets" in first.stdout
    uploaded = {asset.original_filename: asset for asset in Asset.objects.filter(owner=admin_user)}
    assert set(uploaded) == {"IMG_2682.heic", "tanners_ridge.jpg", "clip.mp4"}
    for name, source in FILES.items():
        asset = uploaded[name.rsplit("/", 1)[-1]]
        assert asset.checksum == hashlib.sha1(source.read_bytes()).hexdigest()
        assert asset.type == (AssetType.VIDEO if name.endswith(".mp4") else AssetType.IMAGE)

    second = immich("upload", "--recursive", "--no-progress", str(photo_folder))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Found 0 new files and 3 duplicates" in second.stdout
    assert "All assets were already uploaded, nothing to do." in second.stdout
    assert Asset.objects.filter(owner=admin_user).count() == 3

    info = immich("server-info")
    assert info.returncode == 0, info.stdout + info.stderr
    version = running_version()
    assert "Server Info (via admin@example.com)" in info.stdout
    assert f"Version: {version.major}.{version.minor}.{version.patch}" in info.stdout
    images_line = next(line for line in info.stdout.splitlines() if line.strip().startswith("Images: ") and
                       "," in line)
    assert {"heic", "jpg", "png"} <= set(images_line.split(": ", 1)[1].split(","))
    assert "    Images: 2" in info.stdout and "    Videos: 1" in info.stdout and "    Total: 3" in info.stdout


@pytest.mark.django_db(transaction=True)
def test_the_cli_refuses_a_key_without_the_upload_permission(immich, live_server, admin_user, photo_folder):
    _, secret = ApiKey.issue(admin_user, "read only", ["user.read"])
    assert immich("login", f"{live_server.url}/api", secret).returncode == 0
    refused = immich("upload", "--recursive", "--no-progress", str(photo_folder))
    assert refused.returncode == 1
    assert 'Missing required permission: "asset.upload"' in refused.stdout
    assert not Asset.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_upload_with_album_puts_each_file_in_the_album_of_its_folder(immich, live_server, admin_user, photo_folder,
                                                                      tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    _, secret = ApiKey.issue(admin_user, "cli")
    assert immich("login", f"{live_server.url}/api", secret).returncode == 0

    upload = immich("upload", "--recursive", "--no-progress", "--album", str(photo_folder))
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert "Successfully created 3 new albums" in upload.stdout
    albums = {album.name: sorted(album.assets.values_list("original_filename", flat=True))
              for album in Album.objects.filter(owner=admin_user)}
    assert albums == {"photos": ["IMG_2682.heic"], "trips": ["tanners_ridge.jpg"], "2022": ["clip.mp4"]}

    # A named album for a new folder: created once, and the album of an existing name is reused.
    (tmp_path / "more").mkdir()
    shutil.copy(TESTDATA / "photos" / "tanners_ridge.jpg", tmp_path / "more" / "ridge-copy.jpg")
    shutil.copy(TESTDATA / "videos" / "vp9_opus_640x360_3s.webm", tmp_path / "more" / "clip.webm")
    named = immich("upload", "--recursive", "--no-progress", "--album-name", "trips", str(tmp_path / "more"))
    assert named.returncode == 0, named.stdout + named.stderr
    assert "Successfully created 0 new albums" in named.stdout
    trips = Album.objects.get(owner=admin_user, name="trips")
    assert sorted(trips.assets.values_list("original_filename", flat=True)) == ["clip.webm", "tanners_ridge.jpg"]
    assert Album.objects.filter(owner=admin_user).count() == 3
