"""Immich's incremental clustering on synthetic embeddings: core and deferred faces, noise, min faces,
order independence, one face per photo and person, owners, trash and birth dates."""

from datetime import UTC, date, datetime

import numpy as np
import pytest

from people_app.models import Face, Person
from people_app.services import face_index, recognition

from .conftest import add_face, blobs, photo, unit


@pytest.fixture
def ml_settings(db):
    from settings_app.services import save_values

    def set_(**values):
        result = save_values({f"machineLearning.facialRecognition.{k}": v for k, v in values.items()})
        assert result.ok, result.errors
    return set_


def partition(faces) -> set[frozenset]:
    """The people found, as sets of face ids (unassigned faces are left out)."""
    groups = {}
    for face_id, person_id in Face.objects.filter(pk__in=[f.pk for f in faces]).values_list("id", "person_id"):
        if person_id:
            groups.setdefault(person_id, set()).add(face_id)
    return {frozenset(group) for group in groups.values()}


def make_blob_faces(user, rng, centres=4, per_centre=5, noise=3):
    points, labels = blobs(rng, centres, per_centre)
    faces = [add_face(photo(user), point) for point in points]
    noise_faces = [add_face(photo(user), rng.normal(size=64)) for _ in range(noise)]
    truth = {frozenset(f.pk for f, label in zip(faces, labels, strict=True) if label == c) for c in range(centres)}
    return faces + noise_faces, truth, noise_faces


def test_blobs_become_people_and_noise_stays_unassigned(user, ml_settings):
    ml_settings(minFaces=3, maxDistance=0.5)
    faces, truth, noise = make_blob_faces(user, np.random.default_rng(1))
    totals = recognition.cluster_faces([f.pk for f in faces])
    assert partition(faces) == truth
    assert Person.objects.count() == 4
    assert Face.objects.filter(pk__in=[f.pk for f in noise], person__isnull=False).count() == 0
    assert totals["noise"] == 3
    # Each person's picture is one of its own faces.
    for person in Person.objects.all():
        assert person.face.person_id == person.pk


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_same_partition_whatever_the_order(user, ml_settings, seed):
    ml_settings(minFaces=3, maxDistance=0.5)
    faces, truth, _ = make_blob_faces(user, np.random.default_rng(7))
    order = [faces[i].pk for i in np.random.default_rng(seed).permutation(len(faces))]
    recognition.cluster_faces(order)
    assert partition(faces) == truth


@pytest.mark.parametrize("min_faces, expected_people", [(1, 5), (2, 4), (3, 3)])
def test_min_faces(user, ml_settings, min_faces, expected_people):
    """Clusters of 3, 3, 3 and 2 faces plus one lone face: min faces 1 makes everyone a person (no core
    concept), 2 drops the lone face, 3 also the pair."""
    ml_settings(minFaces=min_faces, maxDistance=0.5)
    rng = np.random.default_rng(3)
    points, labels = blobs(rng, 5, 3)
    keep = [i for i, label in enumerate(labels)
            if label < 3 or (label == 3 and i % 3 < 2) or (label == 4 and i % 3 == 0)]
    faces = [add_face(photo(user), points[i]) for i in keep]
    recognition.cluster_faces([f.pk for f in faces])
    assert Person.objects.count() == expected_people
    sizes = sorted(len(group) for group in partition(faces))
    assert sizes == {1: [1, 2, 3, 3, 3], 2: [2, 3, 3, 3], 3: [3, 3, 3]}[min_faces]


def test_border_face_is_deferred_then_joins_the_person(user, ml_settings):
    """A face near a cluster but with fewer than min faces neighbours is not core: it waits until the
    core faces made the person, then joins it."""
    ml_settings(minFaces=3, maxDistance=0.5)
    axis = np.eye(64)
    # A triangle of core faces 0.45 apart; the border face is 0.15 from the first and 0.64 from the others.
    core = [add_face(photo(user), axis[0] + 0.9 * axis[i]) for i in (1, 2, 3)]
    border = add_face(photo(user), axis[0] + 1.5 * axis[1] + axis[10])
    totals = recognition.cluster_faces([border.pk] + [f.pk for f in core])
    border.refresh_from_db()
    core[0].refresh_from_db()
    assert totals == {"deferred": 1, "created": 1, "assigned": 3}
    assert border.person_id == core[0].person_id is not None
    # A border face never founds a person by itself: alone with one neighbour it stays unassigned.
    recognition.reset_clusters()
    Face.objects.filter(pk__in=[f.pk for f in core[1:]]).delete()
    face_index.bump(user.pk)
    totals = recognition.cluster_faces([border.pk, core[0].pk])
    assert totals == {"deferred": 2, "unassigned": 2}
    assert Person.objects.count() == 0


def test_two_faces_of_one_photo_never_share_a_person(user, ml_settings):
    """Twins in one photo (embeddings almost equal) plus photos of one of them: each photo gives a
    person at most one face (Immich issue #12921)."""
    ml_settings(minFaces=2, maxDistance=0.5)
    rng = np.random.default_rng(5)
    centre = unit(rng.normal(size=64))
    group = photo(user)
    twins = [add_face(group, centre + rng.normal(scale=0.02, size=64)) for _ in range(2)]
    singles = [add_face(photo(user), centre + rng.normal(scale=0.02, size=64)) for _ in range(3)]
    for order in ([*twins, *singles], [*singles, *twins], [twins[0], singles[0], twins[1], *singles[1:]]):
        recognition.reset_clusters()
        recognition.cluster_faces([f.pk for f in order])
        people_in_group = list(Face.objects.filter(asset=group).values_list("person_id", flat=True))
        assert len(set(people_in_group) - {None}) == len([p for p in people_in_group if p])
        for person in Person.objects.all():
            assets = list(person.faces.values_list("asset_id", flat=True))
            assert len(assets) == len(set(assets))


def test_only_the_owners_faces_are_searched(user, admin_user, ml_settings):
    ml_settings(minFaces=3, maxDistance=0.5)
    rng = np.random.default_rng(9)
    points, _ = blobs(rng, 1, 4)
    mine = [add_face(photo(user), p) for p in points[:2]]
    theirs = [add_face(photo(admin_user), p) for p in points[2:]]
    recognition.cluster_faces([f.pk for f in mine + theirs])
    assert Person.objects.count() == 0  # two faces each: nobody reaches three


def test_trashed_photos_are_not_searched(user, ml_settings):
    ml_settings(minFaces=3, maxDistance=0.5)
    points, _ = blobs(np.random.default_rng(11), 1, 3)
    faces = [add_face(photo(user), p) for p in points[:2]]
    faces.append(add_face(photo(user, deleted_at=datetime(2026, 1, 1, tzinfo=UTC)), points[2]))
    recognition.cluster_faces([f.pk for f in faces])
    assert Person.objects.count() == 0


def test_people_born_after_the_photo_are_not_matched(user, ml_settings):
    ml_settings(minFaces=1, maxDistance=0.5)
    points, _ = blobs(np.random.default_rng(12), 1, 2)
    baby = add_face(photo(user, taken_at=datetime(2025, 1, 1, tzinfo=UTC)), points[0])
    recognition.cluster_faces([baby.pk])
    baby.refresh_from_db()
    Person.objects.filter(pk=baby.person_id).update(birth_date=date(2024, 6, 1), name="Baby")
    old_photo = add_face(photo(user, taken_at=datetime(2020, 1, 1, tzinfo=UTC)), points[1])
    recognition.cluster_faces([old_photo.pk])
    old_photo.refresh_from_db()
    assert old_photo.person_id not in (None, baby.person_id)  # a new person, not the baby


def test_exif_manual_and_small_faces_are_never_clustered(user, ml_settings):
    ml_settings(minFaces=1, maxDistance=0.5)
    points, _ = blobs(np.random.default_rng(13), 1, 3)
    exif = add_face(photo(user), points[0], source=Face.EXIF)
    small = add_face(photo(user), points[1], is_recognizable=False)
    totals = recognition.cluster_faces([exif.pk, small.pk])
    assert totals == {"skipped": 2}
    assert recognition.face_ids_to_recognize(False) == []


def test_reset_keeps_named_people_when_asked(user, ml_settings):
    ml_settings(minFaces=3, maxDistance=0.5)
    faces, truth, _ = make_blob_faces(user, np.random.default_rng(21), centres=2, noise=0)
    recognition.cluster_faces([f.pk for f in faces])
    named, unnamed = list(Person.objects.all())
    named.name = "Alice"
    named.save()
    recognition.reset_clusters(user, keep_named=True)
    assert list(Person.objects.all()) == [named]
    assert named.faces.count() == 5
    ids = recognition.face_ids_to_recognize(False)
    assert len(ids) == 5
    recognition.cluster_faces(ids)
    assert partition(faces) == truth
    recognition.face_ids_to_recognize(True)  # ALL: every cluster dissolved, names included (Immich)
    assert Person.objects.count() == 0


def test_a_change_in_another_process_reloads_the_index(user, ml_settings):
    """The cached matrix notices faces added elsewhere (another process bumps the version)."""
    ml_settings(minFaces=1, maxDistance=0.5)
    points, _ = blobs(np.random.default_rng(31), 1, 2)
    first = add_face(photo(user), points[0])
    recognition.cluster_faces([first.pk])
    second = add_face(photo(user), points[1])  # bumps the version, as another process would
    recognition.cluster_faces([second.pk])
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.person_id == first.person_id


def test_a_purged_photo_leaves_no_phantom_neighbours(user, ml_settings):
    """Deleting a photo for good (trash purge) removes its faces from every cached matrix."""
    ml_settings(minFaces=3, maxDistance=0.5)
    points, _ = blobs(np.random.default_rng(41), 1, 3)
    faces = [add_face(photo(user), p) for p in points]
    face_index.owner_index(user.pk, "test-model")  # cached with three faces
    faces[2].asset.delete()
    assert recognition.cluster_faces([faces[0].pk, faces[1].pk]) == {"deferred": 2, "unassigned": 2}
    assert Person.objects.count() == 0


def test_a_person_deleted_behind_the_cache_is_not_used(user, ml_settings):
    ml_settings(minFaces=1, maxDistance=0.5)
    points, _ = blobs(np.random.default_rng(42), 1, 2)
    first = add_face(photo(user), points[0])
    recognition.cluster_faces([first.pk])
    first.refresh_from_db()
    Person.objects.filter(pk=first.person_id).delete()  # no counter bump: as a raw delete would
    second = add_face(photo(user), points[1])
    face_index.owner_index(user.pk, "test-model").assign(first.pk, first.person_id)  # a stale cache
    face_index._CACHE[(str(user.pk), "test-model")].version = face_index.current_version(user.pk)
    recognition.cluster_faces([second.pk])
    second.refresh_from_db()
    assert second.person_id is not None and second.person_id != first.person_id


def test_the_batched_run_the_full_search_fallback_and_one_job_per_face_agree(user, ml_settings, monkeypatch):
    """Facial Recognition ALL computes all neighbour lists up front and keeps the assignments in memory; the
    FacialRecognition job handles one face and writes it. Lists cut short (NEIGHBOUR_LIMIT) fall back to
    a full search of that face. All three give the same people, with photos holding faces of two people
    and a photo in the trash."""
    ml_settings(minFaces=3, maxDistance=0.5)
    rng = np.random.default_rng(21)
    points, labels = blobs(rng, 3, 25)
    shared = [photo(user) for _ in range(5)]  # a face of person 0 and one of person 1 in each
    faces = []
    for point, label in zip(points, labels, strict=True):
        asset = shared[len(faces) % 5] if label < 2 and len(faces) % 25 < 5 else photo(user)
        faces.append(add_face(asset, point))
    faces += [add_face(photo(user), rng.normal(size=64)) for _ in range(8)]
    trashed = photo(user, deleted_at=datetime(2026, 1, 1, tzinfo=UTC))
    faces.append(add_face(trashed, points[0]))
    order = [f.pk for f in faces]

    def run_batched():
        recognition.reset_clusters()
        return recognition.cluster_faces(order), partition(faces)

    totals, people = run_batched()
    assert len(people) == 3 and all(len(group) == 25 for group in people)
    assert totals["skipped"] == 1  # the trashed photo's face

    monkeypatch.setattr(recognition, "NEIGHBOUR_LIMIT", 2)  # every list of a person's face is cut short
    full_searches = []
    search_in_full = face_index.neighbours_of
    monkeypatch.setattr(face_index, "neighbours_of", lambda *args: full_searches.append(1) or search_in_full(*args))
    assert run_batched() == (totals, people)
    assert len(full_searches) >= 3  # at least the founder of each person found nobody in its short list

    recognition.reset_clusters()
    pending, seen = list(order), {}
    while pending:
        outcome = recognition.recognize_face(pending.pop(0))
        seen[outcome.status] = seen.get(outcome.status, 0) + 1
        if outcome.status == recognition.DEFERRED:
            pending.append(outcome.face_id)
    assert (seen, partition(faces)) == (totals, people)
