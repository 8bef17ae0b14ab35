"""Assets for the photo-page tests, made the way the server makes them: the test file is copied into a
temporary upload folder (permanent deletes remove upload originals), then metadata and thumbnails run."""

import shutil
from pathlib import Path

from django.conf import settings

from media_app.formats import asset_type_for
from media_app.models import Asset
from media_app.services import metadata, thumbnails
from media_app.services.files import sha1_of
from tests.conftest import TESTDATA

PHOTOS = TESTDATA / "photos"
VIDEOS = TESTDATA / "videos"


def add_asset(owner, source, *, library=None, copy_as: str | None = None) -> Asset:
    source = Path(source)
    if library is None:
        folder = Path(settings.MEDIA_ROOT) / "upload" / str(owner.pk)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (copy_as or source.name)
        shutil.copyfile(source, path)
    else:
        path = source
    asset = Asset.objects.create(owner=owner, library=library, type=asset_type_for(path), original_path=str(path),
                                 original_filename=path.name, checksum=sha1_of(path), file_size=path.stat().st_size)
    metadata.extract_asset(asset.id)
    thumbnails.generate_asset(asset.id)
    return Asset.objects.get(pk=asset.id)


def generated_files(asset: Asset) -> list[Path]:
    return [thumbnails.absolute(p) for p in (asset.thumbnail_path, asset.preview_path, asset.fullsize_path) if p]
