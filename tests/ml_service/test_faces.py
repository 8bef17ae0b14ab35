"""The bundled face model as a Python API: detection, calibrated scores, embeddings (real models, real photos)."""

import io
import itertools
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from ml_service.faces import (
    EMBEDDING_SIZE,
    FaceDetector,
    FaceEmbedder,
    calibrated_score,
)
from ml_service.images import ImageDecodeError, decode_image

from .faces_data import FACES, NO_FACE_PHOTOS, PHOTOS, iou, people_by_file, reference_boxes


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder()


def load(path) -> np.ndarray:
    return decode_image(path.read_bytes())


def test_calibration_is_monotone_and_puts_immichs_default_between_false_positives_and_faces():
    evidence = np.linspace(0.01, 0.999, 200)
    scores = [calibrated_score(p, p) for p in evidence]
    assert all(b > a for a, b in itertools.pairwise(scores))
    assert calibrated_score(0.93, 0.93) == pytest.approx(0.7)
    # MTCNN's typical false positives (0.87-0.91 raw) land below 0.7 even if the mirror agrees,
    assert calibrated_score(0.91, 0.99) < 0.7
    # a hand that its mirror image does not confirm lands well below,
    assert calibrated_score(0.914, 0.336) < 0.65
    # a confident face stays above 0.7 even when half of it is hidden in the mirror image,
    assert calibrated_score(0.998, 0.67) > 0.7
    # confident real faces well above it
    assert calibrated_score(0.999, 0.99) > 0.85
    # more of either probability never lowers the score
    assert calibrated_score(0.99, 0.5) < calibrated_score(0.99, 0.6) < calibrated_score(0.995, 0.6)


@pytest.mark.parametrize("name", sorted(people_by_file()))
def test_every_labelled_face_is_found_in_its_place(detector, name):
    image = load(FACES / name)
    faces = detector.detect(image, 0.7)
    expected = reference_boxes()[name]
    assert len(faces) == len(people_by_file()[name])
    for reference in expected:
        best = max(iou(face.box, reference) for face in faces)
        assert best > 0.6, (name, reference, [f.box for f in faces])
    height, width = image.shape[:2]
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert 0.7 <= face.score <= 1


def test_hand_false_positive_is_dropped_at_the_default_and_kept_only_at_a_low_min_score(detector):
    image = load(FACES / "obama.jpg")
    everything = detector.detect(image, 0.0)
    hand = [face for face in everything if face.box[1] > 900]  # the hand near the bottom of the portrait
    assert len(hand) == 1 and 0.87 <= hand[0].raw_score <= 0.93  # MTCNN alone would keep it at 0.7
    assert hand[0].score < 0.65
    assert len(detector.detect(image, 0.7)) == 1
    assert len(detector.detect(image, hand[0].score)) == 2  # min score filters on the calibrated score


def test_large_image_boxes_are_in_the_given_images_pixels(detector):
    image = load(FACES / "obama3.jpg")  # 1434x2333, scanned downscaled
    assert image.shape[:2] == (2333, 1434)
    [face] = detector.detect(image, 0.7)
    assert iou(face.box, reference_boxes()["obama3.jpg"][0]) > 0.8


@pytest.mark.parametrize("name", NO_FACE_PHOTOS)
def test_photos_without_faces_give_none(detector, name):
    assert detector.detect(load(PHOTOS / name), 0.7) == []


def degraded(image: Image.Image, how: str) -> Image.Image:
    if how == "masked":  # the lower face covered, as by a surgical mask
        image = image.copy()
        draw = ImageDraw.Draw(image)
        for x1, y1, x2, y2 in reference_boxes()["faces.jpg"]:
            draw.rectangle([x1 + 0.1 * (x2 - x1), y1 + 0.6 * (y2 - y1), x2 - 0.1 * (x2 - x1), y2], fill=(200, 200, 230))
        return image
    if how == "blurred":
        return image.filter(ImageFilter.GaussianBlur(3))
    if how == "dark":
        return image.point(lambda v: v // 4)
    if how == "small":
        return image.resize((image.width // 2, image.height // 2))
    return image.rotate(20, expand=True)


@pytest.mark.parametrize("how", ["blurred", "dark", "small", "tilted", "masked"])
def test_real_faces_in_poor_conditions_still_pass_the_default(detector, how):
    source = Image.open(FACES / "faces.jpg")
    buffer = io.BytesIO()
    degraded(source, how).save(buffer, "JPEG", quality=90)
    faces = detector.detect(decode_image(buffer.getvalue()), 0.7)
    assert len(faces) >= 5  # of the six people


def test_embeddings_are_normalised_and_tell_people_apart(detector, embedder):
    vectors = []  # (person, file, embedding)
    for name, people in sorted(people_by_file().items()):
        image = load(FACES / name)
        faces = sorted(detector.detect(image, 0.7), key=lambda face: face.box[0])
        embeddings = embedder.embed(image, [face.box for face in faces])
        assert embeddings.shape == (len(people), EMBEDDING_SIZE) and embeddings.dtype == np.float32
        assert np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
        vectors += [(person, name, vector) for person, vector in zip(people, embeddings, strict=True)]
    same, different = [], []
    for (person_a, file_a, a), (person_b, file_b, b) in itertools.combinations(vectors, 2):
        distance = 1 - float(a @ b)
        if person_a == person_b:
            same.append(distance)
        elif file_a != file_b:  # strangers side by side in one group photo can look alike (README)
            different.append(distance)
    assert len(same) == 23
    assert max(same) < 0.5 < min(different)


def test_no_boxes_give_no_embeddings(embedder):
    assert embedder.embed(np.zeros((50, 50, 3), np.uint8), []).shape == (0, EMBEDDING_SIZE)


def test_embedding_of_a_box_at_the_image_edge(embedder):
    image = load(FACES / "Family1-Daughter1.jpg")
    height, width = image.shape[:2]
    [embedding] = embedder.embed(image, [(0, 0, width, height)])
    assert np.linalg.norm(embedding) == pytest.approx(1, abs=1e-5)


def test_decode_refuses_empty_and_garbage_bytes_with_a_reason():
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageDecodeError, match="could not be decoded"):
        decode_image(b"not an image at all")
    with pytest.raises(ImageDecodeError, match="could not be decoded"):
        decode_image((FACES / "obama_small.jpg").read_bytes()[:300])


def test_decode_refuses_an_image_claiming_too_many_pixels():
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", 20000, 20000)  # IHDR width and height: 400 megapixels
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    with pytest.raises(ImageDecodeError, match="larger than 100000000 pixels"):
        decode_image(bytes(png))


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_faces_are_found_whatever_the_pixel_format(detector, mode):
    image = Image.open(FACES / "obama_small.jpg")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 256)
    else:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    pixels = decode_image(buffer.getvalue())
    assert pixels.shape == (240, 320, 3) and pixels.dtype == np.uint8
    assert len(detector.detect(pixels, 0.7)) == 1


def test_decode_turns_the_image_upright_by_its_exif_orientation():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.new("RGB", (40, 20), "red").save(buffer, "JPEG", exif=exif)
    assert decode_image(buffer.getvalue()).shape == (40, 20, 3)


def test_mtcnn_gives_the_five_landmarks_arcface_aligns_on(detector):
    """So an Immich recognition model (ArcFace, aligned by landmarks) can follow the bundled detection."""
    [face] = detector.detect(load(FACES / "obama_small.jpg"), 0.7)
    (left_eye, right_eye, nose, mouth_left, mouth_right) = face.landmarks
    x1, y1, x2, y2 = face.box
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
