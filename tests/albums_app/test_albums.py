"""Albums: Immich's album API shapes and status codes, owner/editor/viewer rules, the pages (list, album
timeline, sharing, shared links), "add to album" from the timeline selection, and album tokens of the
storage template placing files."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from albums_app.models import Album
from jobs_app.models import Job
from media_app.models import SharedLink
from media_app.services import storage
from settings_app.services import refresh_config, save_values
from tests.conftest import USER_PASSWORD
from tests.media_app.photo_assets import PHOTOS, add_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def friend(django_user_model):
    return django_user_model.objects.create_user("friend@example.com", USER_PASSWORD, name="Friend")


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user("stranger@example.com", USER_PASSWORD, name="Stranger")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def photos(user, media_root):
    return [add_asset(user, PHOTOS / name) for name in ("mongolels.jpg", "tanners_ridge.jpg", "denali.webp")]


def api(client, method, path, body=None):
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
    return getattr(client, method)(f"/api{path}", **kwargs)


def test_create_get_update_delete_in_immich_shapes(user_client, user, photos, friend):
    created = api(user_client, "post", "/albums", {
        "albumName": "Holiday", "description": "Summer", "assetIds": [str(photos[0].id), str(photos[1].id)],
        "albumUsers": [{"userId": str(friend.pk), "role": "viewer"}]})
    assert created.status_code == 201
    body = created.json()
    assert body["albumName"] == "Holiday" and body["description"] == "Summer"
    assert body["ownerId"] == str(user.pk) and body["owner"]["email"] == user.email
    assert body["assetCount"] == 2 and {a["id"] for a in body["assets"]} == {str(photos[0].id), str(photos[1].id)}
    assert all(a == user_client.get(f"/api/assets/{a['id']}").json() for a in body["assets"])  # Immich's full DTO
    assert body["albumUsers"] == [{"role": "viewer", "user": {
        "id": str(friend.pk), "email": "friend@example.com", "name": "Friend", "profileImagePath": "",
        "avatarColor": "primary", "profileChangedAt": user_client.get(f"/api/users/{friend.pk}").json()[
            "profileChangedAt"]}}]  # the member as GET /api/users/{id} shows them
    assert body["shared"] is True and body["hasSharedLink"] is False
    assert body["albumThumbnailAssetId"] == str(photos[0].id)
    assert body["order"] == "desc" and body["isActivityEnabled"] is True
    album_id = body["id"]

    patched = api(user_client, "patch", f"/albums/{album_id}",
                  {"albumName": "Holiday 2024", "order": "asc", "albumThumbnailAssetId": str(photos[1].id)})
    assert patched.status_code == 200
    assert patched.json()["albumName"] == "Holiday 2024" and patched.json()["order"] == "asc"
    assert patched.json()["albumThumbnailAssetId"] == str(photos[1].id)
    bad_cover = api(user_client, "patch", f"/albums/{album_id}", {"albumThumbnailAssetId": str(photos[2].id)})
    assert bad_cover.status_code == 400 and "cover" in bad_cover.json()["message"]

    listed = api(user_client, "get", "/albums").json()
    assert [a["albumName"] for a in listed] == ["Holiday 2024"] and listed[0]["assets"] == []
    assert api(user_client, "get", f"/albums?assetId={photos[2].id}").json() == []

    assert api(user_client, "delete", f"/albums/{album_id}").status_code == 204
    assert api(user_client, "get", f"/albums/{album_id}").status_code == 404
    assert not Album.objects.exists()


def test_add_and_remove_assets_answer_bulk_results(user_client, user, photos, stranger, media_root):
    album_id = api(user_client, "post", "/albums", {"albumName": "A"}).json()["id"]
    theirs = add_asset(stranger, PHOTOS / "density_plot.png")
    missing = "00000000-0000-0000-0000-000000000000"
    answer = api(user_client, "put", f"/albums/{album_id}/assets",
                 {"ids": [str(photos[0].id), str(theirs.id), missing]})
    assert answer.status_code == 200
    assert answer.json() == [{"id": str(photos[0].id), "success": True},
                             {"id": str(theirs.id), "success": False, "error": "no_permission"},
                             {"id": missing, "success": False, "error": "not_found"}]
    again = api(user_client, "put", f"/albums/{album_id}/assets", {"ids": [str(photos[0].id)]}).json()
    assert again == [{"id": str(photos[0].id), "success": False, "error": "duplicate"}]
    removed = api(user_client, "delete", f"/albums/{album_id}/assets", {"ids": [str(photos[0].id), str(photos[1].id)]})
    assert removed.json() == [{"id": str(photos[0].id), "success": True},
                              {"id": str(photos[1].id), "success": False, "error": "not_found"}]
    assert api(user_client, "get", f"/albums/{album_id}").json()["assetCount"] == 0
    assert api(user_client, "put", f"/albums/{album_id}/assets", {"ids": ["not-a-uuid"]}).status_code == 400


def test_viewer_editor_and_stranger_rules(user_client, user, photos, friend, stranger, media_root):
    album_id = api(user_client, "post", "/albums",
                   {"albumName": "Shared", "assetIds": [str(photos[0].id)]}).json()["id"]
    friend_client, stranger_client = client_for(friend), client_for(stranger)
    assert api(stranger_client, "get", f"/albums/{album_id}").status_code == 404

    added = api(user_client, "put", f"/albums/{album_id}/users", {"albumUsers": [{"userId": str(friend.pk),
                                                                                   "role": "viewer"}]})
    assert added.status_code == 200 and added.json()["albumUsers"][0]["role"] == "viewer"
    again = api(user_client, "put", f"/albums/{album_id}/users", {"albumUsers": [{"userId": str(friend.pk)}]})
    assert again.status_code == 400 and again.json()["message"] == "User already added"
    to_owner = api(user_client, "put", f"/albums/{album_id}/users", {"albumUsers": [{"userId": str(user.pk)}]})
    assert to_owner.status_code == 400

    # The viewer sees it (list, info, its files) and cannot change anything.
    assert [a["id"] for a in api(friend_client, "get", "/albums").json()] == [album_id]
    assert [a["id"] for a in api(friend_client, "get", "/albums?isShared=true").json()] == [album_id]
    assert api(friend_client, "get", "/albums?isOwned=true").json() == []
    assert [a["id"] for a in api(friend_client, "get", "/albums?isOwned=false&name=Shared").json()] == [album_id]
    assert api(user_client, "get", "/albums?isShared=false").json() == []
    as_owner = api(user_client, "put", f"/albums/{album_id}/users", {"albumUsers": [{"userId": str(stranger.pk),
                                                                                      "role": "owner"}]})
    assert as_owner.status_code == 400  # the SDK's AlbumUserRole has "owner", but an album has one owner
    assert api(friend_client, "get", f"/albums/{album_id}").json()["assetCount"] == 1
    assert friend_client.get(f"/albums/{album_id}/assets/{photos[0].id}/thumbnail/").status_code == 200
    assert stranger_client.get(f"/albums/{album_id}/assets/{photos[0].id}/thumbnail/").status_code == 404
    mine = add_asset(friend, PHOTOS / "density_plot.png")
    assert api(friend_client, "put", f"/albums/{album_id}/assets", {"ids": [str(mine.id)]}).status_code == 403
    assert api(friend_client, "patch", f"/albums/{album_id}", {"albumName": "Mine now"}).status_code == 403
    assert api(friend_client, "delete", f"/albums/{album_id}").status_code == 403

    # As editor: adds own photos, removes only those, cannot rename or share.
    assert api(user_client, "put", f"/albums/{album_id}/user/{friend.pk}", {"role": "editor"}).status_code == 204
    assert api(friend_client, "put", f"/albums/{album_id}/assets", {"ids": [str(mine.id)]}).json()[0]["success"]
    refused = api(friend_client, "delete", f"/albums/{album_id}/assets", {"ids": [str(photos[0].id)]}).json()
    assert refused == [{"id": str(photos[0].id), "success": False, "error": "no_permission"}]
    assert api(friend_client, "patch", f"/albums/{album_id}", {"albumName": "x"}).status_code == 403
    assert api(friend_client, "put", f"/albums/{album_id}/users",
               {"albumUsers": [{"userId": str(stranger.pk)}]}).status_code == 403
    assert api(user_client, "get", f"/albums/{album_id}").json()["assetCount"] == 2  # the owner sees the editor's

    # The member leaves; the owner cannot be removed.
    assert api(friend_client, "delete", f"/albums/{album_id}/user/{user.pk}").status_code == 400
    assert api(friend_client, "delete", f"/albums/{album_id}/user/me").status_code == 204
    assert api(friend_client, "get", f"/albums/{album_id}").status_code == 404


def test_pages_list_create_share_and_remove(user_client, user, photos, friend):
    response = user_client.post("/albums/new/", {"name": "Trip"})
    album = Album.objects.get(name="Trip")
    assert response["Location"] == f"/albums/{album.id}/"
    assert user_client.post("/albums/new/", {"name": "  "}).status_code == 302
    assert Album.objects.count() == 1

    added = user_client.post("/albums/add-selection/", {"ids": [str(p.id) for p in photos[:2]], "album": str(album.id)})
    assert added.json() == {"added": 2, "duplicates": 0,
                            "album": {"id": str(album.id), "name": "Trip", "url": f"/albums/{album.id}/"}}
    created = user_client.post("/albums/add-selection/", {"ids": [str(photos[2].id)], "new_name": "Fresh"}).json()
    assert created["added"] == 1 and Album.objects.get(name="Fresh").assets.count() == 1
    assert {row["name"] for row in user_client.get("/albums/picker/").json()["albums"]} == {"Trip", "Fresh"}

    page = user_client.get(f"/albums/{album.id}/").content.decode()
    assert len(re.findall(r'class="tile album-tile" data-asset-id', page)) == 2
    user_client.post(f"/albums/{album.id}/share/", {"email": "friend@example.com", "role": "viewer"})
    friend_client = client_for(friend)
    listing = friend_client.get("/albums/").content.decode()
    assert "Trip" in listing and "Fresh" not in listing
    friend_page = friend_client.get(f"/albums/{album.id}/").content.decode()
    assert "you are viewer" in friend_page and 'name="ids"' not in friend_page  # nothing to select
    assert friend_client.get(f"/albums/{Album.objects.get(name='Fresh').id}/").status_code == 404

    user_client.post(f"/albums/{album.id}/remove-assets/", {"ids": [str(photos[0].id)]})
    assert list(album.assets.all()) == [photos[1]]
    user_client.post(f"/albums/{album.id}/edit/", {"name": "Trip 2", "description": "d", "order": "asc"})
    album.refresh_from_db()
    assert (album.name, album.description, album.order) == ("Trip 2", "d", "asc")
    user_client.post(f"/albums/{album.id}/delete/")
    assert not Album.objects.filter(pk=album.pk).exists()


def test_album_shared_link_shows_the_album_as_it_is_now(user_client, user, photos, admin_user):
    assert save_values({"server.externalDomain": "https://photos.example.com"}, user=admin_user).ok
    album = Album.objects.create(owner=user, name="Linked")
    user_client.post("/albums/add-selection/", {"ids": [str(photos[0].id)], "album": str(album.id)})
    user_client.post(f"/albums/{album.id}/link/", {})
    link = SharedLink.objects.get(album=album)
    assert link.type == SharedLink.ALBUM
    assert f"https://photos.example.com/share/{link.key}/" in user_client.get(f"/albums/{album.id}/").content.decode()
    user_client.post("/albums/add-selection/", {"ids": [str(photos[1].id)], "album": str(album.id)})
    visitor = Client()
    html = visitor.get(f"/share/{link.key}/").content.decode()
    assert "Linked" in html
    assert set(re.findall(r'data-asset-id="([0-9a-f-]+)"', html)) == {str(photos[0].id), str(photos[1].id)}
    assert visitor.get(f"/share/{link.key}/{photos[1].id}/thumbnail/").status_code == 200
    assert visitor.get(f"/share/{link.key}/{photos[2].id}/thumbnail/").status_code == 404
    assert api(user_client, "get", f"/albums/{album.id}").json()["hasSharedLink"] is True


def test_album_token_places_the_file_and_changes_requeue_it(user_client, user, photos, media_root):
    assert save_values({"storageTemplate.enabled": True,
                        "storageTemplate.template": "{{#if album}}{{album}}{{else}}Other{{/if}}/{{filename}}"}).ok
    refresh_config()
    photo = photos[0]
    Job.objects.all().delete()
    album = Album.objects.create(owner=user, name="Iceland.2024")
    user_client.post("/albums/add-selection/", {"ids": [str(photo.id)], "album": str(album.id)})
    jobs = list(Job.objects.filter(name="StorageTemplateMigrationSingle"))
    assert [job.data["id"] for job in jobs] == [str(photo.id)]
    placement = storage.place_asset_by_id(photo.id)
    photo.refresh_from_db()
    assert Path(photo.original_path) == storage.user_root(user) / "Iceland2024" / "mongolels.jpg"
    assert Path(photo.original_path).is_file(), placement

    Job.objects.all().delete()
    api(user_client, "patch", f"/albums/{album.id}", {"albumName": "Norway"})
    assert Job.objects.filter(name="StorageTemplateMigrationSingle").count() == 1
    storage.place_asset_by_id(photo.id)
    photo.refresh_from_db()
    assert Path(photo.original_path).parent.name == "Norway"

    # A template without album tokens: album changes queue nothing.
    assert save_values({"storageTemplate.template": "{{y}}/{{filename}}"}).ok
    refresh_config()
    Job.objects.all().delete()
    api(user_client, "patch", f"/albums/{album.id}", {"albumName": "Sweden"})
    assert not Job.objects.filter(name="StorageTemplateMigrationSingle").exists()


def test_asset_page_lists_its_albums_and_adds_to_one(user_client, user, photos):
    album = Album.objects.create(owner=user, name="Best of")
    panel = user_client.get(f"/albums/for-asset/{photos[0].id}/").content.decode()
    assert "In no album." in panel and "Best of" in panel
    response = user_client.post("/albums/add-selection/", {"ids": [str(photos[0].id)], "album": str(album.id),
                                                           "redirect": "1"})
    assert response["Location"] == f"/albums/{album.id}/"
    assert list(album.assets.all()) == [photos[0]]
    panel = user_client.get(f"/albums/for-asset/{photos[0].id}/").content.decode()
    assert f'href="/albums/{album.id}/"' in panel
    assert 'hx-get="/albums/for-asset/' in user_client.get(f"/photos/{photos[0].id}/").content.decode()
