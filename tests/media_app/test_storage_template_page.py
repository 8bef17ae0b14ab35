"""The Storage Template settings tools: the live preview (the mover's rendering), presets with their rendered
examples, the variables, errors as you type, the dry run of an unsaved template and the last report."""

import shutil

from django.urls import reverse

from media_app.models import Asset, StorageMigrationReport
from media_app.services import storage
from media_app.storage_template import PRESETS

from .conftest import PHOTOS

FIELD = "storage_template_template"


def test_the_settings_page_loads_the_tools_into_the_template_form(admin_client):
    page = admin_client.get(reverse("settings:category", args=["storage-template"])).content.decode()
    assert reverse("storage-template:tools") in page


def test_tools_show_every_preset_with_its_example_and_the_variables(admin_client, admin_user, media_root):
    page = admin_client.get(reverse("storage-template:tools")).content.decode()
    root = storage.user_root(admin_user)
    for preset in PRESETS:
        assert f'value="{preset}"' in page
    assert f">{root}/2022/2022-02-03/IMAGE_56437.jpg</option>" in page
    assert f">{root}/FUJIFILM/X-T50/XF27mm F2.8 R WR/IMAGE_56437.jpg</option>" in page
    assert "<dt>Week</dt>" in page and "<code>{{WW}}</code> 05" in page
    assert "<code>{{assetIdShort}}</code> 56717ccba856" in page
    assert "Approximate path length limit: " in page and "Storage Template Migration" in page


def test_the_preview_renders_what_is_typed(admin_client, admin_user, media_root):
    url = reverse("storage-template:preview")
    page = admin_client.get(url, {FIELD: "{{y}}/{{MMMM}}/{{#if album}}{{album}}{{/if}}/{{filename}}"}).content.decode()
    path = f"{storage.user_root(admin_user)}/2022/February/Album Name/IMAGE_56437.jpg"
    assert path in page and f"Approximate path length limit: {len(path)}/260" in page
    for typed, error in (("{{y}}/{{nope}}", "unknown variable “nope”"),
                         ("{{#if album}}{{album}}", "never closed"),
                         ("../admin2/{{filename}}", "outside the user&#x27;s folder")):
        page = admin_client.get(url, {FIELD: typed}).content.decode()
        assert error in page and 'role="alert"' in page, typed


def test_the_dry_run_of_an_unsaved_template_lists_moves_and_touches_nothing(admin_client, user, make_asset, tmp_path):
    photo = tmp_path / "holiday.jpg"
    shutil.copy(PHOTOS / "HMD_Nokia_8.3_5G.jpg", photo)
    asset = make_asset(photo, make="HMD Global")
    page = admin_client.post(reverse("storage-template:dry-run"), {FIELD: "{{make}}/{{filename}}"}).content.decode()
    assert "1 asset would move" in page
    assert f"{photo}</code> → <code>{storage.user_root(user)}/HMD Global/holiday.jpg" in page
    assert Asset.objects.get(pk=asset.pk).original_path == str(photo) and photo.exists()
    page = admin_client.post(reverse("storage-template:dry-run"), {FIELD: "{{y}}/{{oops}}"}).content.decode()
    assert "unknown variable" in page


def test_the_last_migration_report_is_shown(admin_client, media_root):
    skipped = [{"asset": "x", "path": "/p/a.jpg", "reason": "the original is missing"}]
    StorageMigrationReport.objects.create(template="{{y}}/{{filename}}", moved=3, in_place=2, skipped_count=1,
                                          skipped=skipped)
    page = admin_client.get(reverse("storage-template:tools")).content.decode()
    assert "3 moved, 2 already in place, 1 skipped" in page and "the original is missing" in page


def test_tools_are_admin_only(user_client):
    assert user_client.get(reverse("storage-template:tools")).status_code == 403
    assert user_client.post(reverse("storage-template:dry-run"), {FIELD: "{{y}}"}).status_code == 403
