"""Face detection jobs against the real ML service over HTTP: boxes in the original's coordinates,
refresh/reset/missing, small faces, switched-off features, a model the service does not have."""

import pytest
from PIL import Image

from jobs_app.models import Job
from jobs_app.services import start_queue
from people_app.models import AssetFaceStatus, Face, Person
from people_app.services import detection
from settings_app.services import save_values
from tests.media_app.photo_assets import add_asset
from tests.ml_service.faces_data import FACES, PHOTOS, reference_boxes
from tests.ml_service.insightface_models import sample_scene, write_models

pytestmark = pytest.mark.django_db


def run_handler(job):
    from jobs_app.handlers import get_handler

    return get_handler(job.name).func(job)


def test_boxes_match_the_reference_in_the_originals_coordinates(user, media_root, use_ml, settings):
    # A preview much smaller than the original: the boxes are scaled back to the original.
    assert save_values({"image.preview.size": 720}).ok
    asset = add_asset(user, FACES / "obama3.jpg")  # 1434 x 2333
    result = detection.detect_asset(asset.pk)
    (face,) = Face.objects.filter(asset=asset)
    assert result.new_faces == [str(face.pk)]
    assert (face.image_width, face.image_height) == (1434, 2333)
    (reference,) = reference_boxes()["obama3.jpg"]
    assert all(abs(a - b) < 45 for a, b in zip((face.x1, face.y1, face.x2, face.y2), reference, strict=True))
    assert face.model_name == "bundled-mtcnn-facenet" and face.source == Face.ML
    assert len(face.vector) == 512 and abs(float((face.vector ** 2).sum()) - 1) < 1e-3
    assert face.score >= 0.7 and face.is_recognizable
    assert AssetFaceStatus.objects.get(asset=asset).detected_at is not None


def test_the_hand_is_dropped_at_the_default_min_score(user, media_root, use_ml):
    asset = add_asset(user, FACES / "obama.jpg")
    detection.detect_asset(asset.pk)
    assert Face.objects.filter(asset=asset).count() == 1


def test_refresh_keeps_matching_faces_and_removes_those_under_a_raised_threshold(user, media_root, use_ml):
    asset = add_asset(user, FACES / "faces.jpg")
    detection.detect_asset(asset.pk)
    faces = {f.pk: f for f in Face.objects.filter(asset=asset)}
    assert len(faces) == 6
    person = Person.objects.create(owner=user, name="Kept")
    Face.objects.filter(pk=next(iter(faces))).update(person=person)
    again = detection.detect_asset(asset.pk)  # refresh: same boxes
    assert (again.new_faces, again.kept, again.removed) == ([], 6, 0)
    assert set(Face.objects.filter(asset=asset).values_list("pk", flat=True)) == set(faces)
    assert Face.objects.get(pk=next(iter(faces))).person == person
    assert save_values({"machineLearning.facialRecognition.minScore": 1.0}).ok
    gone = detection.detect_asset(asset.pk)
    assert gone.removed == 6 and not Face.objects.filter(asset=asset).exists()
    assert not Person.objects.filter(pk=person.pk).exists()  # a person left without faces goes


def test_rotated_photo_boxes_are_in_the_upright_original(user, media_root, use_ml, tmp_path):
    """EXIF orientation 6 (stored sideways): the preview is upright, and so are the stored boxes."""
    from PIL import Image

    source = Image.open(FACES / "Family2-Lady1.jpg")  # 316 x 464, upright
    sideways = source.transpose(Image.Transpose.ROTATE_90)  # what a camera stores for orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    sideways.save(path, exif=exif, quality=95)
    asset = add_asset(user, path)
    assert (asset.width, asset.height) == (316, 464)
    detection.detect_asset(asset.pk)
    (face,) = Face.objects.filter(asset=asset)
    (reference,) = reference_boxes()["Family2-Lady1.jpg"]
    assert (face.image_width, face.image_height) == (316, 464)
    assert all(abs(a - b) < 20 for a, b in zip((face.x1, face.y1, face.x2, face.y2), reference, strict=True))


def test_small_faces_are_stored_but_not_recognizable(user, media_root, use_ml):
    asset = add_asset(user, FACES / "faces.jpg")  # six faces of 70-90 px
    assert save_values({"image.preview.size": 200}).ok  # the preview shrinks the faces to 30-40 px
    from media_app.services import thumbnails

    thumbnails.generate_asset(asset.pk)
    detection.detect_asset(asset.pk)
    faces = list(Face.objects.filter(asset=asset))
    assert faces and not any(face.is_recognizable for face in faces)


def test_switched_off_features_skip_the_job_and_disable_the_buttons(user, media_root, use_ml):
    asset = add_asset(user, FACES / "obama_small.jpg")
    assert save_values({"machineLearning.facialRecognition.enabled": False}).ok
    job = Job.objects.create(queue="faceDetection", name="AssetDetectFaces", data={"id": str(asset.pk)})
    assert run_handler(job) == "skipped: facial recognition is disabled"
    with pytest.raises(Exception, match="Disabled: turn on Enable facial recognition"):
        start_queue("faceDetection", True)
    assert save_values({"machineLearning.facialRecognition.enabled": True, "machineLearning.enabled": False}).ok
    assert run_handler(job) == "skipped: machine learning is disabled"
    assert not Face.objects.exists()


def test_a_model_the_service_lacks_fails_the_job_naming_model_and_folder(user, media_root, use_ml):
    asset = add_asset(user, FACES / "obama_small.jpg")
    assert save_values({"machineLearning.facialRecognition.modelName": "buffalo_l"}).ok
    job = Job.objects.create(queue="faceDetection", name="AssetDetectFaces", data={"id": str(asset.pk)})
    with pytest.raises(Exception, match="buffalo_l") as failure:
        run_handler(job)
    assert "ml-models" in str(failure.value)  # the model cache folder of the service
    assert "buffalo_l" in AssetFaceStatus.objects.get(asset=asset).error


def test_an_immich_model_in_the_services_cache_detects_and_embeds(user, media_root, use_ml, ml_service, tmp_path):
    write_models(ml_service.model_cache / "facial-recognition" / "buffalo_s")
    image, boxes = sample_scene()
    Image.fromarray(image).save(tmp_path / "scene.png")
    asset = add_asset(user, tmp_path / "scene.png")
    assert save_values({"machineLearning.facialRecognition.modelName": "buffalo_s"}).ok
    job = Job.objects.create(queue="faceDetection", name="AssetDetectFaces", data={"id": str(asset.pk)})
    run_handler(job)
    faces = Face.objects.filter(asset=asset)
    assert sorted((f.x1, f.y1, f.x2, f.y2) for f in faces) == sorted(boxes)
    assert {f.model_name for f in faces} == {"buffalo_s"}
    assert all(len(f.vector) == 512 and abs(float((f.vector**2).sum()) - 1) < 1e-3 for f in faces)
    assert faces.get(x1=56).is_recognizable is False  # 16 px: too small for recognition


def test_reset_deletes_ml_faces_and_missing_skips_detected_assets(user, media_root, use_ml):
    done = add_asset(user, FACES / "obama_small.jpg")
    todo = add_asset(user, FACES / "Family1-Dad1.jpg")
    detection.detect_asset(done.pk)
    exif_face = Face.objects.create(asset=done, x1=1, y1=1, x2=5, y2=5, image_width=320, image_height=240,
                                    source=Face.EXIF)
    assert list(detection.asset_ids_to_detect(False)) == [str(todo.pk)]
    assert set(detection.asset_ids_to_detect(None)) == {str(done.pk), str(todo.pk)}
    assert set(detection.asset_ids_to_detect(True)) == {str(done.pk), str(todo.pk)}
    assert list(Face.objects.all()) == [exif_face]  # ML faces gone, imported ones kept


def test_new_uploads_are_chained_to_face_detection(user, media_root, use_ml):
    from media_app.tasks import generate_thumbnails

    asset = add_asset(user, PHOTOS / "curie_portrait_xmp_faces.jpg")
    job = Job.objects.create(queue="thumbnailGeneration", name="AssetGenerateThumbnails",
                             data={"id": str(asset.pk), "source": "upload"})
    generate_thumbnails(job)
    assert Job.objects.filter(queue="faceDetection", name="AssetDetectFaces", data__id=str(asset.pk)).exists()
