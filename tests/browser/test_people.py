"""The People pages in a real chromium: the grid, renaming, merging after confirmation, and the face boxes
over the photo on its page."""

import pytest
from playwright.sync_api import Page, expect

from people_app.models import Face, Person
from people_app.services import thumbnails
from settings_app.services import save_values
from tests.media_app.photo_assets import PHOTOS, add_asset
from tests.ml_service.faces_data import FACES

from .test_photos import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def curie(user, settings, tmp_path):
    """The Curie photo with its XMP faces imported (Marie and Pierre Curie), and a second photo whose face
    belongs to "Marie S." (the same woman, named differently)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    assert save_values({"metadata.faces.import": True}).ok
    photo = add_asset(user, PHOTOS / "curie_portrait_xmp_faces.jpg")
    other = add_asset(user, FACES / "obama_small.jpg")
    marie_s = Person.objects.create(owner=user, name="Marie S.")
    Face.objects.create(asset=other, person=marie_s, source=Face.MANUAL, x1=109, y1=40, x2=216, y2=193,
                        image_width=320, image_height=240)
    for person in Person.objects.all():
        thumbnails.generate(person.pk)
    return photo


def test_people_rename_merge_and_face_boxes(page: Page, live_server, user, curie):
    log_in(page, live_server, user)
    page.get_by_role("link", name="People").click()
    cards = page.locator(".person-card")
    expect(cards).to_have_count(3)
    for name in ("Marie Curie", "Pierre Curie", "Marie S."):
        expect(page.locator(".person-name", has_text=name)).to_be_visible()
    card_image = cards.first.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth === 250", arg=card_image.element_handle())

    page.locator(".person-card", has_text="Pierre Curie").get_by_role("link").click()
    page.get_by_label("Name").fill("Pierre")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".person-title")).to_have_text("Pierre")
    assert Person.objects.filter(name="Pierre").exists()

    page.goto(f"{live_server.url}/people/")
    page.locator(".person-card", has_text="Marie Curie").get_by_role("link").click()
    page.get_by_label("Merge another person into this one").select_option(label="Marie S. (1 photo)")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Merge").click()
    expect(page.locator(".person-head")).to_contain_text("2 photos")
    assert "Merge the chosen person into Marie Curie?" in dialogs[0]
    assert not Person.objects.filter(name="Marie S.").exists()

    page.goto(f"{live_server.url}/photos/{curie.id}/")
    boxes = page.locator(".face-box")
    expect(boxes).to_have_count(2)
    expect(page.locator(".face-box", has_text="Pierre")).to_be_visible()
    image = page.locator("img.preview").bounding_box()
    marie = page.locator(".face-box", has_text="Marie Curie").bounding_box()
    # Marie's region: x 0.312-0.425, y 0.208-0.407 of the photo.
    assert abs((marie["x"] - image["x"]) / image["width"] - 0.312) < 0.01
    assert abs((marie["y"] - image["y"]) / image["height"] - 0.208) < 0.01
    page.locator(".face-box", has_text="Pierre").click()
    expect(page.locator(".person-title")).to_have_text("Pierre")
