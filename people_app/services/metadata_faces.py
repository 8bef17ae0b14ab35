"""metadata.faces.import: face regions written by photo managers (XMP, Metadata Working Group regions:
mwg-rs:RegionList items of type Face with a Name and a normalised centre-based Area) become faces of named
people (source "exif"). They carry no embedding and are never clustered. Each metadata extraction replaces
the asset's imported faces, so an edited sidecar or file is followed."""

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from django.db import transaction
from PIL import Image

from media_app.models import Asset, AssetType
from media_app.services.companions import find_sidecar
from settings_app.services import get_config

from ..models import Face, Person
from . import face_index

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
MWG_RS = "{http://www.metadataworkinggroup.com/schemas/regions/}"
ST_AREA = "{http://ns.adobe.com/xmp/sType/Area#}"
ST_DIM = "{http://ns.adobe.com/xap/1.0/sType/Dimensions#}"


def _value(element, name: str) -> str | None:
    """An XMP property written as an attribute or as a child element."""
    if name in element.attrib:
        return element.attrib[name]
    child = element.find(name)
    return child.text if child is not None and child.text else None


def read_regions(xmp: bytes | str) -> tuple[list[dict], tuple[int, int] | None]:
    """[{name, x, y, w, h}] (normalised centre and size) of the named face regions, and the
    AppliedToDimensions (w, h) they were written for."""
    try:
        root = ElementTree.fromstring(xmp.strip(b"\x00") if isinstance(xmp, bytes) else xmp)
    except ElementTree.ParseError:
        return [], None
    regions, applied = [], None
    for container in root.iter(f"{MWG_RS}Regions"):
        dimensions = container.find(f"{MWG_RS}AppliedToDimensions")
        if dimensions is not None:
            try:
                applied = (int(float(_value(dimensions, f"{ST_DIM}w"))), int(float(_value(dimensions, f"{ST_DIM}h"))))
            except (TypeError, ValueError):
                applied = None
        for item in container.iter(f"{RDF}li"):
            description = item.find(f"{RDF}Description")
            region = description if description is not None else item
            name = (_value(region, f"{MWG_RS}Name") or "").strip()
            if (_value(region, f"{MWG_RS}Type") or "Face") != "Face" or not name:
                continue
            area = region.find(f"{MWG_RS}Area")
            if area is None:
                continue
            try:
                x, y, w, h = (float(_value(area, f"{ST_AREA}{k}")) for k in "xywh")
            except (TypeError, ValueError):
                continue
            if (_value(area, f"{ST_AREA}unit") or "normalized") != "normalized" or not (0 < w <= 1 and 0 < h <= 1):
                continue
            regions.append({"name": name[:200], "x": x, "y": y, "w": w, "h": h})
    return regions, applied


# Where a normalised point of the stored image lands once the EXIF orientation is applied.
ORIENT = {
    1: lambda x, y: (x, y), 2: lambda x, y: (1 - x, y), 3: lambda x, y: (1 - x, 1 - y), 4: lambda x, y: (x, 1 - y),
    5: lambda x, y: (y, x), 6: lambda x, y: (1 - y, x), 7: lambda x, y: (1 - y, 1 - x), 8: lambda x, y: (y, 1 - x),
}


def displayed_box(region: dict, orientation: int | None, width: int, height: int,
                  stored_size: tuple[int, int] | None, applied: tuple[int, int] | None) -> tuple[int, ...]:
    """The region's box in the displayed (upright) image of width x height. MWG areas refer to the image
    as stored; when AppliedToDimensions says they were written for the upright image (some tools do), they
    are used as they are."""
    corners = [(region["x"] - region["w"] / 2, region["y"] - region["h"] / 2),
               (region["x"] + region["w"] / 2, region["y"] + region["h"] / 2)]
    rotate = orientation in ORIENT and orientation != 1 and not (
        applied and stored_size and applied != stored_size and applied == (width, height))
    if rotate:
        corners = [ORIENT[orientation](x, y) for x, y in corners]
    xs = [min(max(x, 0.0), 1.0) for x, _ in corners]
    ys = [min(max(y, 0.0), 1.0) for _, y in corners]
    return round(min(xs) * width), round(min(ys) * height), round(max(xs) * width), round(max(ys) * height)


def _xmp_of(asset: Asset) -> tuple[bytes | None, tuple[int, int] | None]:
    """The asset's XMP: its sidecar (photo.jpg.xmp or photo.xmp) first, else the packet in the file."""
    path = Path(asset.original_path)
    sidecar = find_sidecar(path)
    if sidecar is not None:
        with Image.open(path) as image:
            return sidecar.read_bytes(), image.size
    with Image.open(path) as image:
        return image.info.get("xmp"), image.size


@transaction.atomic
def import_faces(asset: Asset) -> int:
    """Replace the asset's imported faces with its current face regions. Returns how many were imported."""
    Face.objects.filter(asset=asset, source=Face.EXIF).delete()
    if asset.type != AssetType.IMAGE or not asset.width or not asset.height:
        return 0
    try:
        xmp, stored_size = _xmp_of(asset)
    except OSError:
        return 0
    if not xmp:
        return 0
    regions, applied = read_regions(xmp)
    for region in regions:
        x1, y1, x2, y2 = displayed_box(region, asset.orientation, asset.width, asset.height, stored_size, applied)
        person = Person.objects.filter(owner=asset.owner, name=region["name"]).order_by("created_at").first()
        if person is None:
            person = Person.objects.create(owner=asset.owner, name=region["name"])
        face = Face.objects.create(asset=asset, person=person, source=Face.EXIF, x1=x1, y1=y1, x2=x2, y2=y2,
                                   image_width=asset.width, image_height=asset.height, score=1.0)
        if person.face_id is None:
            Person.objects.filter(pk=person.pk).update(face=face)
    Person.objects.filter(owner=asset.owner, faces__isnull=True).delete()
    if regions:
        face_index.bump(asset.owner_id)
    return len(regions)


def on_metadata_extracted(sender, asset, **kwargs) -> None:
    if get_config().get("metadata.faces.import"):
        import_faces(asset)
