import csv
from pathlib import Path

import pytest

from media_app.formats import asset_type_for
from media_app.models import Asset
from media_app.services.files import sha1_of
from settings_app.services import refresh_config, save_values
from tests.conftest import TESTDATA

PHOTOS = TESTDATA / "photos"
VIDEOS = TESTDATA / "videos"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


PHOTO_ROWS = _rows(PHOTOS / "metadata.csv")
VIDEO_ROWS = _rows(VIDEOS / "videos.csv")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def make_asset(db, user, media_root):
    """An uploaded asset pointing at a file (the test data in tests/data is read in place, never copied)."""

    def make(path, owner=None, **fields):
        path = Path(path)
        return Asset.objects.create(owner=owner or user, type=asset_type_for(path), original_path=str(path),
                                    original_filename=path.name, checksum=sha1_of(path),
                                    file_size=path.stat().st_size, **fields)

    return make


@pytest.fixture
def shared_media(settings, tmp_path, child_env):
    """One DATA_DIR (hence MEDIA_ROOT) for this process and the workers."""
    data_dir = tmp_path / "data"
    (data_dir / "media").mkdir(parents=True)
    settings.MEDIA_ROOT = data_dir / "media"
    child_env["DATA_DIR"] = str(data_dir)
    return settings.MEDIA_ROOT


@pytest.fixture
def save_settings(admin_user):
    """Save settings under a key prefix as the administrator would (validated), effective at once:
    `save_settings("ffmpeg", crf=30)` saves `ffmpeg.crf`."""

    def save(prefix: str, **values):
        result = save_values({f"{prefix}.{key}": value for key, value in values.items()}, user=admin_user)
        assert result.ok, result.errors
        refresh_config()

    return save
