"""OCR through the Ocr job on the real ML service (RapidOCR's bundled PP-OCR models): printed text drawn
with Pillow is stored with the asset and found by search; a min recognition score above the recognised
score removes it."""

import pytest
from PIL import Image, ImageDraw, ImageFont

from search_app.models import AssetOcr
from search_app.services import ocr, search
from settings_app.services import save_values
from tests.media_app.photo_assets import add_asset

from .conftest import run_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def sign(user, use_clip_ml, tmp_path):
    image = Image.new("RGB", (900, 240), "white")
    ImageDraw.Draw(image).text((40, 80), "HELLO PHOTOSERVER", fill="black",
                               font=ImageFont.truetype("DejaVuSans-Bold.ttf", 64))
    path = tmp_path / "sign.png"
    image.save(path)
    return add_asset(user, path)


def test_printed_text_is_read_stored_and_searchable(sign, user, user_client):
    outcome = run_job("ocr", "Ocr", id=str(sign.pk))
    assert outcome.startswith("sign.png: ") and "0 line" not in outcome
    lines = list(AssetOcr.objects.filter(asset=sign))
    assert "PHOTOSERVER" in " ".join(line.text for line in lines).upper()
    assert all(0 <= value <= 1 for line in lines for value in (line.x1, line.y1, line.x3, line.y3))
    assert all(line.text_score >= 0.8 and line.box_score >= 0.5 for line in lines)
    assert search.metadata_search(user, search.Filters(ocr="photoserver")).assets == [sign]
    response = user_client.post("/api/search/metadata", {"ocr": "PHOTOSERVER"}, content_type="application/json")
    assert [item["id"] for item in response.json()["assets"]["items"]] == [str(sign.pk)]
    page = user_client.get(f"/photos/{sign.pk}/")
    assert b"PHOTOSERVER" in page.content.upper()

    # a min recognition score above the recognised one: the text is gone after OCR runs again
    best = max(line.text_score for line in lines)
    assert best < 1
    assert save_values({"machineLearning.ocr.minRecognitionScore": min(1.0, round(best + 0.005, 3))}).ok
    assert run_job("ocr", "Ocr", id=str(sign.pk)) == "sign.png: 0 line(s) of text"
    assert search.metadata_search(user, search.Filters(ocr="photoserver")).assets == []


def test_ocr_off_skips(sign):
    assert save_values({"machineLearning.ocr.enabled": False}).ok
    assert run_job("ocr", "Ocr", id=str(sign.pk)) == "skipped: OCR is disabled"


def test_the_ocr_settings_are_checked_with_immichs_ranges(db):
    result = save_values({"machineLearning.ocr.minRecognitionScore": 0.05, "machineLearning.ocr.maxResolution": 0})
    assert not result.ok
    assert set(result.errors) >= {"machineLearning.ocr.minRecognitionScore", "machineLearning.ocr.maxResolution"}


def test_ocr_requests_carry_the_settings(sign, db):
    assert save_values({"machineLearning.ocr.maxResolution": 400, "machineLearning.ocr.minDetectionScore": 0.6}).ok
    from settings_app.services import get_config

    answer = ocr.request_ocr(open(sign.original_path, "rb").read(), get_config())
    assert set(answer) == {"text", "box", "boxScore", "textScore"}
    assert all(score >= 0.6 for score in answer["boxScore"])
