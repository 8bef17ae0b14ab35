"""metadata.faces.import: XMP (MWG) face regions become faces of named people, never clustered."""

import pytest
from PIL import Image

from people_app.models import Face, Person
from people_app.services import metadata_faces, recognition
from settings_app.services import save_values
from tests.media_app.photo_assets import add_asset
from tests.ml_service.faces_data import PHOTOS

pytestmark = pytest.mark.django_db
CURIE = PHOTOS / "curie_portrait_xmp_faces.jpg"


def test_off_by_default(user, media_root):
    add_asset(user, CURIE)
    assert not Face.objects.exists()


def test_curie_regions_become_named_people(user, media_root):
    assert save_values({"metadata.faces.import": True}).ok
    asset = add_asset(user, CURIE)  # 840 x 700, no orientation
    faces = {f.person.name: f for f in Face.objects.filter(asset=asset).select_related("person")}
    assert set(faces) == {"Marie Curie", "Pierre Curie"}
    marie = faces["Marie Curie"]
    # x 0.368452, y 0.307857 (centre), w 0.113095, h 0.198571 of 840 x 700
    assert (marie.x1, marie.y1, marie.x2, marie.y2) == (262, 146, 357, 285)
    assert (marie.image_width, marie.image_height, marie.source, marie.embedding) == (840, 700, Face.EXIF, None)
    assert Person.objects.get(name="Marie Curie").face == marie
    assert recognition.face_ids_to_recognize(False) == []  # never clustered
    # Extracting again replaces the imported faces (no duplicates), people are kept.
    from media_app.services import metadata

    metadata.extract_asset(asset.pk)
    assert Face.objects.filter(asset=asset).count() == 2 and Person.objects.count() == 2


def test_rotated_photo_regions_follow_the_orientation(user, media_root, tmp_path):
    """The same picture stored sideways with orientation 6: the regions (for the stored image) land on
    the same faces of the upright photo."""
    assert save_values({"metadata.faces.import": True}).ok
    with Image.open(CURIE) as image:
        xmp = image.info["xmp"]
        sideways = image.transpose(Image.Transpose.ROTATE_90)  # stored 700 x 840, shown upright by tag 6
    regions, _ = metadata_faces.read_regions(xmp)
    stored = []
    for region in regions:  # the areas rewritten for the stored (rotated) pixels
        stored.append(f'<rdf:li><rdf:Description mwg-rs:Name="{region["name"]}" mwg-rs:Type="Face"><mwg-rs:Area '
                      f'stArea:x="{region["y"]}" stArea:y="{1 - region["x"]}" stArea:w="{region["h"]}" '
                      f'stArea:h="{region["w"]}" stArea:unit="normalized"/></rdf:Description></rdf:li>')
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
              'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"><mwg-rs:Regions rdf:parseType="Resource">'
              '<mwg-rs:RegionList><rdf:Bag>' + "".join(stored) + '</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>'
              '</rdf:Description></rdf:RDF></x:xmpmeta>')
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "curie-sideways.jpg"
    sideways.save(path, exif=exif, xmp=packet.encode())
    asset = add_asset(user, path)
    assert (asset.width, asset.height) == (840, 700)
    marie = Face.objects.get(asset=asset, person__name="Marie Curie")
    assert all(abs(a - b) <= 2 for a, b in zip((marie.x1, marie.y1, marie.x2, marie.y2), (262, 146, 357, 285),
                                               strict=True))


def test_broken_xmp_imports_nothing(user, media_root, tmp_path):
    assert save_values({"metadata.faces.import": True}).ok
    path = tmp_path / "broken.jpg"
    Image.new("RGB", (50, 40)).save(path, xmp=b"<x:xmpmeta><not-closed>")
    add_asset(user, path)
    assert not Face.objects.exists()
