"""Person thumbnails (Immich's PersonGenerateThumbnail): a square crop around the person's face, cut from
the asset's preview (already upright), with some room around the face, stored under the data folder."""

from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.db import transaction
from PIL import Image

from jobs_app.services import enqueue
from media_app.services.imaging import load_pixels, open_image
from media_app.services.thumbnails import absolute, write_atomically

from ..models import Face, Person

PERSON_THUMBNAIL_JOB = "PersonGenerateThumbnail"  # on Immich's thumbnailGeneration queue
THUMBNAIL_SIZE = 250  # px, a square (Immich's person thumbnail size)
MARGIN = 0.3  # of the face's larger side, added on each side


def thumbnail_file(person: Person) -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbs" / str(person.owner_id) / "people" / f"{person.pk}.jpeg"


def tracked_thumbnails():
    """The person thumbnails in use (media_app's untracked-files check must not report them)."""
    return (absolute(path) for path in Person.objects.exclude(thumbnail_path="").values_list("thumbnail_path",
                                                                                             flat=True).iterator())


def crop_box(face: Face, width: int, height: int) -> tuple[int, int, int, int]:
    """A square around the face in an image of width x height showing the face's picture, kept inside it."""
    x1, y1, x2, y2 = face.box_in(width, height)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * MARGIN)
    side = min(side, width, height)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = min(max(0.0, cx - side / 2), width - side)
    top = min(max(0.0, cy - side / 2), height - side)
    return round(left), round(top), round(left + side), round(top + side)


def choose_face(person: Person) -> Face | None:
    """The person's chosen face, or their best-scored face when it is gone."""
    if person.face_id and Face.objects.filter(pk=person.face_id, person=person).exists():
        return person.face
    return person.faces.select_related("asset").exclude(asset__preview_path="").order_by("-score", "id").first()


def generate(person_id) -> Path | None:
    """Write the person's thumbnail; None when they have no face with a preview to cut it from."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return None
    face = choose_face(person)
    if face is None or not face.asset.preview_path:
        return None
    preview = absolute(face.asset.preview_path)
    image = open_image(preview)
    load_pixels(image, preview)
    crop = image.convert("RGB").crop(crop_box(face, *image.size)).resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE),
                                                                         Image.Resampling.LANCZOS)
    path = thumbnail_file(person)
    buffer = BytesIO()
    crop.save(buffer, "JPEG", quality=85)
    write_atomically(path, buffer.getvalue())
    with transaction.atomic():
        Person.objects.filter(pk=person.pk).update(
            face=face, thumbnail_path=str(path.relative_to(settings.MEDIA_ROOT)))
    return path


def queue_thumbnail(person_id) -> None:
    # Priority as Immich's: a person's picture comes before the remaining photo thumbnails.
    enqueue("thumbnailGeneration", PERSON_THUMBNAIL_JOB, {"id": str(person_id)}, priority=-1,
            dedupe_key=f"{PERSON_THUMBNAIL_JOB}:{person_id}")
