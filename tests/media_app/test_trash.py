"""The trash page (days left, restore, delete, empty) and the nightly purge by Trash days; files of an
external library's assets are never removed from disk."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from media_app.models import Asset, Library
from media_app.services import trash
from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, add_asset, generated_files

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


def trashed(asset, days_ago: float):
    Asset.objects.filter(pk=asset.pk).update(deleted_at=NOW - timedelta(days=days_ago))
    return Asset.objects.get(pk=asset.pk)


@pytest.fixture
def three(user, media_root):
    return [add_asset(user, PHOTOS / name) for name in ("mongolels.jpg", "tanners_ridge.jpg", "denali.webp")]


def test_trash_page_lists_items_with_days_left(user_client, three):
    trashed(three[0], 1.5)
    trashed(three[1], 29.9)
    html = user_client.get("/trash/").content.decode()
    assert "29 days left" in html and "1 day left" in html
    assert str(three[2].id) not in html  # not in the trash
    assert "Items are deleted permanently 30 days after" in html
    assert 'data-confirm="Empty the trash? All 2 items will be deleted permanently."' in html


def test_days_left_follow_the_trash_days_setting(user_client, admin_user, three):
    trashed(three[0], 2)
    assert save_values({"trash.days": 7}, user=admin_user).ok
    assert 'data-days-left="5"' in user_client.get("/trash/").content.decode()
    assert trash.days_left(Asset.objects.get(pk=three[0].pk), NOW, 1) == 0


def test_restore_brings_an_asset_back_to_the_timeline(user_client, three):
    trashed(three[0], 3)
    response = user_client.post("/trash/restore/", {"ids": [str(three[0].id)]})
    assert response.status_code == 302 and response["Location"] == "/trash/"
    assert Asset.objects.get(pk=three[0].pk).deleted_at is None
    assert str(three[0].id) in user_client.get("/photos/").content.decode()


def test_delete_from_trash_and_empty_trash_remove_files(user_client, three):
    for asset in three[:2]:
        trashed(asset, 1)
    first_files = [*generated_files(three[0]), Path(three[0].original_path)]
    user_client.post("/trash/delete/", {"ids": [str(three[0].id)]})
    assert not Asset.objects.filter(pk=three[0].pk).exists() and not any(p.exists() for p in first_files)
    user_client.post("/trash/delete/", {"ids": [str(three[2].id)]})  # not in the trash: untouched
    assert Asset.objects.filter(pk=three[2].pk).exists()
    user_client.post("/trash/empty/")
    assert list(Asset.objects.values_list("pk", flat=True)) == [three[2].pk]
    assert "The trash is empty." in user_client.get("/trash/").content.decode()


def test_purge_expired_removes_only_items_older_than_trash_days(admin_user, three):
    old, recent = trashed(three[0], 30.01), trashed(three[1], 29.99)
    old_files = [*generated_files(old), Path(old.original_path)]
    assert trash.purge_expired(now=NOW) == 1
    assert not Asset.objects.filter(pk=old.pk).exists() and not any(p.exists() for p in old_files)
    assert Asset.objects.filter(pk=recent.pk).exists()
    assert trash.purge_expired(now=NOW + timedelta(days=1)) == 1
    assert save_values({"trash.days": 0}, user=admin_user).ok
    trashed(three[2], 0.001)
    assert trash.purge_expired(now=NOW) == 1


def test_with_the_trash_disabled_the_purge_empties_it(admin_user, three):
    trashed(three[0], 0.1)
    assert save_values({"trash.enabled": False}, user=admin_user).ok
    assert trash.purge_expired(now=NOW) == 1
    assert Asset.objects.count() == 2


def test_external_library_files_are_never_deleted(user, admin_user, media_root, tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copyfile(PHOTOS / "mongolels.jpg", folder / "mongolels.jpg")
    library = Library.objects.create(owner=user, name="NAS", import_paths=[str(folder)])
    asset = add_asset(user, folder / "mongolels.jpg", library=library)
    generated = generated_files(asset)
    assert generated and all(p.exists() for p in generated)
    trashed(asset, 40)
    assert trash.purge_expired(now=NOW) == 1
    assert (folder / "mongolels.jpg").exists()  # the library's file stays
    assert not any(p.exists() for p in generated)  # the server's own thumbnails go

    again = add_asset(user, folder / "mongolels.jpg", library=library)
    assert trash.delete_assets(user, [again.id], force=True).deleted == 1
    assert (folder / "mongolels.jpg").exists()


def test_others_cannot_restore_or_delete_my_trash(three, django_user_model):
    trashed(three[0], 1)
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    client = Client()
    client.force_login(other)
    assert str(three[0].id) not in client.get("/trash/").content.decode()
    client.post("/trash/restore/", {"ids": [str(three[0].id)]})
    client.post("/trash/delete/", {"ids": [str(three[0].id)]})
    client.post("/trash/empty/")
    assert Asset.objects.get(pk=three[0].pk).deleted_at is not None


def test_trash_and_delete_posts_need_the_csrf_token(user, three):
    trashed(three[0], 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url in ("/trash/restore/", "/trash/delete/", "/trash/empty/", "/photos/delete/", "/photos/share/"):
        assert client.post(url, {"ids": [str(three[0].id)]}).status_code == 403, url
    assert Asset.objects.get(pk=three[0].pk).deleted_at is not None
    assert client.get("/trash/empty/").status_code == 405
