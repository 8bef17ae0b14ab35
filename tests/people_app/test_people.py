"""People pages and Immich's people/faces endpoints: listing with min faces and hidden people, rename,
birth date, hide, merge, statistics, thumbnails, face boxes, moving faces; only the owner's people."""

import json
from datetime import date, timedelta

import numpy as np
import pytest

from jobs_app.models import Job
from people_app.models import Face, Person
from settings_app.services import save_values

from .conftest import add_face, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(user):
    """Alice: 3 photos, Bob: 2 photos, Carol (named): 1 photo; one photo shows Alice and Bob."""
    people = {name: Person.objects.create(owner=user, name=name) for name in ("Alice", "Bob", "Carol")}
    group = photo(user)
    faces = {"Alice": [add_face(group, np.ones(64), person=people["Alice"])],
             "Bob": [add_face(group, -np.ones(64), person=people["Bob"])]}
    faces["Alice"] += [add_face(photo(user), np.ones(64), person=people["Alice"]) for _ in range(2)]
    faces["Bob"].append(add_face(photo(user), -np.ones(64), person=people["Bob"]))
    faces["Carol"] = [add_face(photo(user), np.arange(64), person=people["Carol"])]
    unnamed = Person.objects.create(owner=user)
    faces["unnamed"] = [add_face(photo(user), np.eye(64)[3], person=unnamed) for _ in range(2)]
    people["unnamed"] = unnamed
    return people, faces, group


def put(client, url, body):
    return client.put(url, json.dumps(body), content_type="application/json")


def test_people_list_hides_small_unnamed_clusters_and_hidden_people(user_client, family):
    people, _, _ = family
    body = user_client.get("/api/people").json()
    assert [p["name"] for p in body["people"]] == ["Alice", "Bob", "Carol"]  # unnamed with 2 < min faces 3
    assert body["total"] == 3 and body["hidden"] == 0 and body["hasNextPage"] is False
    assert set(body["people"][0]) >= {"id", "name", "birthDate", "thumbnailPath", "isHidden", "isFavorite",
                                      "updatedAt"}
    assert save_values({"machineLearning.facialRecognition.minFaces": 2}).ok  # applies at once
    assert len(user_client.get("/api/people").json()["people"]) == 4
    assert put(user_client, f"/api/people/{people['Bob'].pk}", {"isHidden": True}).json()["isHidden"] is True
    body = user_client.get("/api/people").json()
    assert "Bob" not in [p["name"] for p in body["people"]] and body["hidden"] == 1
    assert "Bob" in [p["name"] for p in user_client.get("/api/people?withHidden=true").json()["people"]]
    assert user_client.get("/api/people?withHidden=maybe").status_code == 400
    page = user_client.get("/people/").content.decode()
    assert "Alice" in page and "Bob" not in page
    assert "Bob" in user_client.get("/people/?hidden=1").content.decode()


def test_update_refuses_bad_fields_and_stores_nothing(user_client, family):
    alice = family[0]["Alice"]
    url = f"/api/people/{alice.pk}"
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for body, field in (({"name": "x" * 201}, "name"), ({"birthDate": "31/12/1990"}, "birthDate"),
                        ({"birthDate": tomorrow}, "birthDate"), ({"name": "Al", "isHidden": "yes"}, "isHidden")):
        response = put(user_client, url, body)
        assert response.status_code == 400 and response.json()["errors"][0]["path"] == [field]
    alice.refresh_from_db()
    assert alice.name == "Alice" and alice.birth_date is None and not alice.is_hidden
    answer = put(user_client, url, {"name": "Alice B.", "birthDate": "1990-05-01"}).json()
    assert answer["name"] == "Alice B." and answer["birthDate"] == "1990-05-01"
    assert user_client.get(url).json()["name"] == "Alice B."


def test_statistics_thumbnail_and_faces_endpoints(user_client, family, media_root):
    people, faces, group = family
    assert user_client.get(f"/api/people/{people['Alice'].pk}/statistics").json() == {"assets": 3}
    assert user_client.get(f"/api/people/{people['Alice'].pk}/thumbnail").status_code == 404  # not made yet
    answer = user_client.get(f"/api/faces?id={group.pk}").json()
    assert len(answer) == 2
    assert set(answer[0]) >= {"id", "imageWidth", "imageHeight", "boundingBoxX1", "boundingBoxY1", "boundingBoxX2",
                              "boundingBoxY2", "person"}
    assert {f["person"]["name"] for f in answer} == {"Alice", "Bob"}
    assert user_client.get("/api/faces?id=nope").status_code == 400


def test_merge_moves_faces_and_reports_each_id(user_client, family):
    people, faces, _ = family
    carol, alice = people["Carol"], people["Alice"]
    answer = user_client.post(f"/api/people/{alice.pk}/merge",
                              json.dumps({"ids": [str(carol.pk), str(alice.pk), "not-an-id"]}),
                              content_type="application/json").json()
    assert answer == [{"id": str(carol.pk), "success": True}, {"id": str(alice.pk), "success": False,
                                                                "error": "duplicate"},
                      {"id": "not-an-id", "success": False, "error": "not_found"}]
    assert not Person.objects.filter(pk=carol.pk).exists() and alice.faces.count() == 4


def test_another_users_people_are_not_found(client, admin_user, family):
    client.force_login(admin_user)
    alice = family[0]["Alice"]
    assert client.get(f"/api/people/{alice.pk}").status_code == 404
    assert put(client, f"/api/people/{alice.pk}", {"name": "x"}).status_code == 404
    assert client.get(f"/people/{alice.pk}/").status_code == 404
    assert client.get("/api/people").json()["people"] == []


def test_person_page_rename_hide_merge_and_move_a_face(user_client, family):
    people, faces, group = family
    alice, bob = people["Alice"], people["Bob"]
    page = user_client.get(f"/people/{alice.pk}/").content.decode()
    assert "Alice" in page and "3 photos" in page and "Merge another person into this one" in page
    assert "data-confirm=" in page
    bad = user_client.post(f"/people/{alice.pk}/edit/", {"name": "Alice", "birth_date": "2999-01-01"})
    assert bad.status_code == 400 and "cannot be in the future" in bad.content.decode()
    user_client.post(f"/people/{alice.pk}/edit/", {"name": "Alice Liddell", "birth_date": "1852-05-04"})
    alice.refresh_from_db()
    assert (alice.name, alice.birth_date, alice.is_hidden) == ("Alice Liddell", date(1852, 5, 4), False)
    # Bob already has a face in the group photo: Alice's face there cannot move to him.
    group_face = faces["Alice"][0]
    user_client.post(f"/people/faces/{group_face.pk}/assign/", {"person": str(bob.pk)})
    assert Face.objects.get(pk=group_face.pk).person == alice
    user_client.post(f"/people/faces/{group_face.pk}/assign/", {"person": ""})
    assert Face.objects.get(pk=group_face.pk).person is None
    user_client.post(f"/people/faces/{group_face.pk}/assign/", {"person": "new", "new_name": "Dinah"})
    dinah = Person.objects.get(name="Dinah")
    assert Face.objects.get(pk=group_face.pk).person == dinah
    assert Job.objects.filter(name="PersonGenerateThumbnail", data__id=str(dinah.pk)).exists()
    user_client.post(f"/people/{alice.pk}/merge/", {"other": str(dinah.pk)})
    assert not Person.objects.filter(pk=dinah.pk).exists() and alice.faces.count() == 3


def test_face_boxes_on_the_photo_page(user_client, family):
    _, faces, group = family
    fragment = user_client.get(f"/people/photo/{group.pk}/faces/").content.decode()
    assert fragment.count('class="face-box"') == 2 and "left:1.000%;top:1.250%" in fragment
    type(group).objects.filter(pk=group.pk).update(preview_path="thumbs/x-preview.jpeg")
    assert f"/people/photo/{group.pk}/faces/" in user_client.get(f"/photos/{group.pk}/").content.decode()


def test_recluster_keeps_named_people(user_client, family):
    people, faces, _ = family
    response = user_client.post("/people/recluster/")
    assert response.status_code == 302
    assert not Person.objects.filter(pk=people["unnamed"].pk).exists()
    assert Person.objects.get(pk=people["Alice"].pk).faces.count() == 3
    assert Job.objects.filter(name="FacialRecognition").count() == 2


def test_anonymous_visitors_are_sent_to_login_or_get_401(client, family):
    alice = family[0]["Alice"]
    assert client.get("/people/")["Location"].startswith("/login/")
    assert client.get(f"/people/{alice.pk}/")["Location"].startswith("/login/")
    for url in ("/api/people", f"/api/people/{alice.pk}", f"/api/people/{alice.pk}/statistics", "/api/faces?id=x"):
        assert client.get(url).status_code == 401
