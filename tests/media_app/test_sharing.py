"""Shared links: share a selection, the link uses the External domain when set (else the request's
host), opens without login, expires (410) and can need a password."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from media_app.models import Asset, SharedLink
from media_app.services import sharing
from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, add_asset
from users_app import throttle
from users_app.models import AuthFailure

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _lan_host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "photos.lan"]


@pytest.fixture
def two(user, media_root):
    return [add_asset(user, PHOTOS / name) for name in ("mongolels.jpg", "tanners_ridge.jpg")]


def share(client, assets, **extra):
    return client.post("/photos/share/", {"ids": [str(a.id) for a in assets], **extra}, HTTP_HOST="photos.lan:8080")


def test_link_uses_the_request_host_without_an_external_domain(user_client, two):
    answer = share(user_client, two).json()
    assert answer["url"] == f"http://photos.lan:8080/share/{answer['key']}/"
    assert set(SharedLink.objects.get(key=answer["key"]).assets.all()) == set(two)


def test_link_uses_the_external_domain_when_set(user_client, admin_user, two):
    assert save_values({"server.externalDomain": "https://photos.example.com"}, user=admin_user).ok
    answer = share(user_client, two).json()
    assert answer["url"] == f"https://photos.example.com/share/{answer['key']}/"


def test_anyone_opens_the_link_and_its_files_without_login(user_client, two):
    key = share(user_client, two[:1]).json()["key"]
    visitor = Client()
    html = visitor.get(f"/share/{key}/").content.decode()
    assert re.findall(r'data-asset-id="([0-9a-f-]+)"', html) == [str(two[0].id)]
    thumbnail = visitor.get(f"/share/{key}/{two[0].id}/thumbnail/")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    assert visitor.get(f"/share/{key}/{two[0].id}/original/").status_code == 200
    assert visitor.get(f"/share/{key}/{two[1].id}/thumbnail/").status_code == 404  # not shared
    assert visitor.get(f"/share/{key}/{two[0].id}/secret/").status_code == 404
    assert visitor.get("/share/no-such-key/").status_code == 404


def test_expired_link_answers_410(user, two):
    link = sharing.create_link(user, [two[0].id], expires_at=timezone.now() + timedelta(hours=1))
    assert Client().get(f"/share/{link.key}/").status_code == 200
    SharedLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(f"/share/{link.key}/")
    assert response.status_code == 410 and "This shared link has expired" in response.content.decode()
    assert Client().get(f"/share/{link.key}/{two[0].id}/thumbnail/").status_code == 410


def test_expiry_from_the_timeline_in_days(user_client, two):
    answer = share(user_client, two, expires_in_days="2").json()
    expires = SharedLink.objects.get(key=answer["key"]).expires_at
    assert timedelta(days=1, hours=23) < expires - timezone.now() <= timedelta(days=2)
    bad = share(user_client, two, expires_in_days="soon")
    assert bad.status_code == 400 and bad.json()["message"] == "Expires in (days) must be a number."


def test_password_protected_link(user_client, two):
    key = share(user_client, two, password="open sesame").json()["key"]
    visitor = Client()
    locked = visitor.get(f"/share/{key}/")
    assert "This shared link is protected" in locked.content.decode() and "data-asset-id" not in locked.content.decode()
    assert visitor.get(f"/share/{key}/{two[0].id}/thumbnail/").status_code == 404
    wrong = visitor.post(f"/share/{key}/", {"password": "guess"})
    assert wrong.status_code == 401 and "Wrong password." in wrong.content.decode()
    assert visitor.post(f"/share/{key}/", {"password": "open sesame"})["Location"] == f"/share/{key}/"
    assert len(re.findall(r"data-asset-id", visitor.get(f"/share/{key}/").content.decode())) == 2
    assert visitor.get(f"/share/{key}/{two[0].id}/thumbnail/").status_code == 200
    assert "open sesame" not in SharedLink.objects.get(key=key).password_hash


def test_link_passwords_are_throttled_per_link_and_address(user_client, admin_client, two):
    key = share(user_client, two, password="open sesame").json()["key"]
    other_key = share(user_client, two[:1], password="other one").json()["key"]
    guesser = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(throttle.PAIR_LIMIT - 1):
        assert guesser.post(f"/share/{key}/", {"password": "guess"}).status_code == 401
    locked = guesser.post(f"/share/{key}/", {"password": "guess"})
    assert locked.status_code == 429 and 850 <= int(locked["Retry-After"]) <= 900
    assert "Too many wrong passwords for this link from your address. Try again in 15 minutes." in (
        locked.content.decode())
    assert guesser.post(f"/share/{key}/", {"password": "open sesame"}).status_code == 429  # not even checked
    assert guesser.post(f"/share/{other_key}/", {"password": "other one"}).status_code == 302  # another link
    friend = Client(REMOTE_ADDR="198.51.100.20")  # the right password from another address still opens it
    assert friend.post(f"/share/{key}/", {"password": "open sesame"})["Location"] == f"/share/{key}/"
    # The owner's administrator clears the lock-out in the console; the address may try again.
    page = admin_client.get("/console/users_app/authfailure/?status=locked").content.decode()
    link_id = SharedLink.objects.get(key=key).pk
    assert f"shared link #{link_id}" in page and "203.0.113.7" in page
    row = AuthFailure.objects.get(scope=throttle.SHARED_LINK, subject=str(link_id))
    admin_client.post("/console/users_app/authfailure/clear/", {"ids": str(row.pk), "confirm": "yes"})
    assert guesser.post(f"/share/{key}/", {"password": "open sesame"}).status_code == 302


def test_only_own_assets_can_be_shared(two, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    client = Client()
    client.force_login(other)
    answer = share(client, two)
    assert answer.status_code == 400 and answer.json()["message"] == "Select at least one of your photos to share."
    assert not SharedLink.objects.exists()


def test_trashed_assets_drop_out_of_the_link(user_client, two):
    key = share(user_client, two).json()["key"]
    Asset.objects.filter(pk=two[0].pk).update(deleted_at=timezone.now())
    html = Client().get(f"/share/{key}/").content.decode()
    assert re.findall(r'data-asset-id="([0-9a-f-]+)"', html) == [str(two[1].id)]


def test_shared_links_page_lists_and_revokes_the_owners_links(user_client, two, django_user_model):
    key = share(user_client, two, expires_in_days="1", password="pw").json()["key"]
    link = SharedLink.objects.get(key=key)
    html = user_client.get("/shared-links/", HTTP_HOST="photos.lan:8080").content.decode()
    assert f'value="http://photos.lan:8080/share/{key}/"' in html
    assert f'data-link-id="{link.pk}"' in html and "<td>2</td>" in html and "<td>Yes</td>" in html

    other = django_user_model.objects.create_user("other@example.com", "pw-123456789", name="Other")
    other_client = Client()
    other_client.force_login(other)
    assert key not in other_client.get("/shared-links/").content.decode()
    other_client.post(f"/shared-links/{link.pk}/delete/")
    assert SharedLink.objects.filter(pk=link.pk).exists()

    assert user_client.post(f"/shared-links/{link.pk}/delete/")["Location"] == "/shared-links/"
    assert not SharedLink.objects.exists() and Asset.objects.count() == 2
    assert Client().get(f"/share/{key}/").status_code == 404
