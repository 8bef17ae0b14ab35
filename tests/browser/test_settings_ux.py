"""The settings dashboard's layout on a laptop and a phone (issue 16), in a real chromium: custom CSS wins on
every page, the open category stays in view, unsaved edits are never lost silently, long categories fold
into sections with switch-dependent fields disabled and a Save bar in view, model lists, theme, keyboard
and an axe-core accessibility check of every category. UPDATE_SCREENSHOTS=1 writes the docs' screenshots."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from settings_app.registry import CATEGORIES, CLIP_MODELS
from settings_app.services import get_config, save_values
from tests.browser.test_settings_dashboard import DOCS_IMG, log_in, open_category, settled_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = "/static/vendor/axe-core-4.14.1/axe.min.js"
LAPTOP = {"width": 1400, "height": 900}
PHONE = {"width": 420, "height": 860}


def computed(page: Page, selector: str, prop: str = "color") -> str:
    return page.eval_on_selector(selector, f"element => getComputedStyle(element).{prop}")


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# --- 1. Custom CSS wins ---------------------------------------------------------------------------------


def test_custom_css_wins_on_every_page_type(page: Page, live_server, admin_user):
    assert save_values({
        "theme.customCss": ".setting-label { color: rgb(255, 0, 0); }\np { color: rgb(0, 128, 0); }\n"
                           "#header a:link { color: rgb(1, 2, 3); }\n.category-title { color: rgb(4, 5, 6); }",
        "server.loginPageMessage": "Welcome!",
    }).ok
    page.goto(f"{live_server.url}/login/")
    assert computed(page, ".welcome-message") == "rgb(0, 128, 0)"  # app.css gives it the muted colour
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "image")
    assert computed(page, ".setting-label") == "rgb(255, 0, 0)"
    assert computed(page, ".setting-help") == "rgb(0, 128, 0)"  # settings.css's muted help text loses too
    assert computed(page, ".category-link.active .category-title") == "rgb(4, 5, 6)"
    page.goto(f"{live_server.url}/console/")
    assert computed(page, ".console-nav a") == "rgb(1, 2, 3)"  # as specific as admin/base.css: order decides
    page.goto(f"{live_server.url}/admin/jobs/")
    assert computed(page, "main p") == "rgb(0, 128, 0)"


# --- 2. The open category is always visible -------------------------------------------------------------


def test_the_open_category_is_in_view_on_a_laptop(page: Page, live_server, admin_user):
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "video-transcoding")
    active = page.locator(".category-link.active")
    expect(active).to_have_attribute("data-slug", "video-transcoding")
    expect(active).to_be_in_viewport(ratio=1)
    listing = page.locator("#category-list")
    assert listing.evaluate("list => list.scrollHeight > list.clientHeight")  # it scrolls on its own
    assert listing.evaluate("list => list.getBoundingClientRect().bottom <= innerHeight")
    page.mouse.wheel(0, 1500)  # the page scrolls; the sticky list and its open entry stay
    expect(active).to_be_in_viewport(ratio=1)
    page.get_by_role("link", name=re.compile("Authentication Settings")).click()
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "authentication")
    expect(page.locator(".category-link.active")).to_be_in_viewport(ratio=1)


def test_on_a_phone_a_picker_replaces_the_list_and_the_category_comes_first(page: Page, live_server, admin_user):
    page.set_viewport_size(PHONE)
    log_in(page, live_server, admin_user)
    assert no_horizontal_overflow(page)  # the top bar wraps
    open_category(page, live_server, "video-transcoding")
    assert no_horizontal_overflow(page)
    expect(page.locator("#category-list")).to_be_hidden()
    picker = page.get_by_label("Category", exact=True)
    expect(picker).to_have_value("video-transcoding")
    expect(page.locator("#category-title")).to_be_in_viewport()
    picker.select_option("trash")
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "trash")
    expect(page).to_have_url(re.compile(r"isOpen=trash"))
    page.get_by_text("Search settings and all categories").click()
    page.get_by_placeholder("Search settings…").fill("quota")
    expect(page.locator(".category-link", has_text="Nightly Tasks")).to_be_visible()


# --- 3. Unsaved edits are never lost silently ----------------------------------------------------------


def test_leaving_with_unsaved_edits_asks_first(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "trash")
    page.get_by_label("Days in trash").fill("12")
    messages = []

    def dismiss(dialog):
        messages.append((dialog.type, dialog.message))
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("link", name=re.compile("Image Settings")).click()
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "trash")
    assert messages == [("confirm", "You have 1 unsaved change in Trash Settings. Leave without saving them?")]
    expect(page.get_by_label("Days in trash")).to_have_value("12")

    page.once("dialog", lambda dialog: (messages.append((dialog.type, "")), dialog.dismiss()))
    page.get_by_role("link", name="Jobs", exact=True).click()  # a full page load: beforeunload
    page.wait_for_timeout(300)
    assert messages[-1][0] == "beforeunload"
    expect(page.get_by_label("Days in trash")).to_have_value("12")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name=re.compile("Image Settings")).click()
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "image")
    assert get_config().trash.days == 30


# --- 4. Long categories are grouped; dependent fields; the Save bar stays in view ------------------------


def test_authentication_folds_into_sections_and_oauth_fields_wait_for_the_switch(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "authentication")
    sections = page.locator("[data-section] .section-title")
    expect(sections).to_have_text(["OAuth", "Password login"])
    issuer = page.get_by_label("Issuer URL")
    expect(issuer).to_be_disabled()
    reason = page.locator("#blocked-oauth_issuer_url")
    expect(reason).to_have_text(re.compile("turn on “Enable OAuth login” to change this"))
    assert "blocked-oauth_issuer_url" in issuer.get_attribute("aria-describedby")

    page.get_by_label("Enable OAuth login").check()
    expect(issuer).to_be_enabled()
    expect(reason).to_be_hidden()
    mobile_uri = page.get_by_label("Mobile redirect URI", exact=True)
    expect(mobile_uri).to_be_disabled()  # depends on the override switch in turn
    expect(page.locator("#blocked-oauth_mobile_redirect_uri")).to_contain_text("Override mobile redirect URI")
    page.get_by_label("Enable OAuth login").uncheck()
    expect(issuer).to_be_disabled()

    oauth = page.locator("[data-section]").first
    oauth.locator("summary").click()  # fold
    expect(issuer).to_be_hidden()
    expect(page.get_by_label("Enable password login")).to_be_visible()
    # A save keeps the disabled fields' stored values and the fold.
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("No changes to save")).to_be_visible()
    expect(page.get_by_label("Issuer URL")).to_be_hidden()


def test_machine_learning_sections_chain_their_switches(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "machine-learning")
    expect(page.locator("[data-section] .section-title")).to_have_text(
        ["General", "Smart search", "Duplicate detection", "Facial recognition", "OCR"])
    page.get_by_label("Enable machine learning").uncheck()
    for label in ("Enable smart search", "CLIP model", "Enable duplicate detection", "Min detection score",
                  "Enable OCR"):
        fields = page.get_by_label(label, exact=True)  # faces and OCR both have a "Min detection score"
        expect(fields.first).to_be_attached()
        for field in fields.all():
            expect(field).to_be_disabled()
    expect(page.locator("#blocked-machine_learning_clip_model_name")).to_contain_text("Enable machine learning")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    config = get_config()
    assert config.machineLearning.enabled is False
    assert config.machineLearning.clip.enabled is True  # disabled, not switched off
    expect(page.get_by_label("Enable smart search")).to_be_disabled()


def test_the_save_bar_stays_in_view_on_a_long_page(page: Page, live_server, admin_user):
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "video-transcoding")
    expect(page.locator("[data-section] .section-title")).to_have_text(
        ["Transcoding policy", "Encoding options", "Hardware acceleration", "Advanced", "Real-time transcoding"])
    page.get_by_label("Constant rate factor (-crf)").fill("30")
    save = page.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_in_viewport()
    expect(page.locator("[data-unsaved-summary]")).to_have_text("1 unsaved change")
    expect(page.locator("[data-section]").nth(1).locator("[data-section-unsaved]")).to_have_text("1 unsaved")
    save.click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().ffmpeg.crf == 30


# --- 5. Model names -------------------------------------------------------------------------------------


def test_clip_models_are_a_filterable_list_grouped_by_embedding_size(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "machine-learning")
    models = page.get_by_label("CLIP model", exact=True)
    groups = models.locator("optgroup")
    sizes = sorted(set(CLIP_MODELS.values()))
    expect(groups).to_have_count(len(sizes))
    assert groups.first.get_attribute("label") == f"{sizes[0]}-dimensional embeddings"
    expect(models.locator("option[value='ViT-B-32__openai']")).to_have_text("ViT-B-32__openai (default)")
    assert models.locator("option[value='ViT-B-32__openai']").evaluate("option => option.parentElement.label") \
        == "512-dimensional embeddings"
    help_and_meta = page.locator("#setting-machine_learning_clip_model_name").inner_text()
    assert "RN50__openai" not in help_and_meta.replace(models.inner_text(), "")  # no wall of names

    page.get_by_label("Filter CLIP models").fill("siglip2")
    shown = models.locator("option:not([hidden])")
    expected = sum("siglip2" in name.lower() for name in CLIP_MODELS) + 1  # the selected one stays
    expect(shown).to_have_count(expected)
    expect(page.locator("#id_machine_learning_clip_model_name-count")).to_have_text(
        f"{expected} of {len(CLIP_MODELS)} shown")
    models.select_option("ViT-B-16-SigLIP2__webli")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().machineLearning.clip.modelName == "ViT-B-16-SigLIP2__webli"

    face = page.get_by_label("Facial recognition model")
    expect(face.locator("optgroup")).to_have_count(2)
    expect(face.locator("option").first).to_contain_text("(default)")


# --- 6. Small things ------------------------------------------------------------------------------------


def test_nightly_start_is_a_time_input(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "nightly-tasks")
    start = page.get_by_label("Start time")
    assert start.get_attribute("type") == "time" and start.get_attribute("maxlength") is None
    start.fill("23:45")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().nightlyTasks.startTime == "23:45"


def test_theme_follows_the_system_and_a_per_user_toggle(page: Page, live_server, admin_user):
    page.emulate_media(color_scheme="dark")
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "trash")
    dark_background = computed(page, "body", "backgroundColor")
    assert dark_background == "rgb(18, 20, 26)"
    page.get_by_role("button", name="Theme: System").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert computed(page, "body", "backgroundColor") == "rgb(246, 247, 251)"
    expect(page.locator("#category-panel")).to_have_attribute("data-slug", "trash")  # back on the same page
    admin_user.refresh_from_db()
    assert admin_user.theme == "light"
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Theme: Light").click()
    assert computed(page, "body", "backgroundColor") == dark_background
    page.get_by_role("button", name="Theme: Dark").click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))
    assert page.evaluate("fetch(document.querySelector('link[rel=icon]').href).then(r => r.status)") == 200
    assert page.evaluate("fetch(document.querySelector('link[rel=apple-touch-icon]').href).then(r => r.status)") == 200


# --- 7. Accessibility -------------------------------------------------------------------------------------


def test_keyboard_alone_enter_saves_escape_discards(page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "trash")
    page.get_by_label("Days in trash").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("21")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Settings saved")).to_be_visible()
    assert get_config().trash.days == 21

    page.get_by_label("Days in trash").fill("5")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_label("Days in trash").press("Escape")
    expect(page.get_by_text("Discarded your changes")).to_be_visible()
    assert questions == ["Discard 1 unsaved change?"]
    expect(page.get_by_label("Days in trash")).to_have_value("21")

    # From the list, a category opens with Enter and focus lands on its title.
    page.locator(".category-link[data-slug=image]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#category-title")).to_be_focused()
    expect(page.locator("#category-title")).to_have_text("Image Settings")


def test_a_category_opened_while_a_discard_settles_is_not_asked_about_the_discarded_change(
        page: Page, live_server, admin_user):
    log_in(page, live_server, admin_user)
    open_category(page, live_server, "trash")
    page.get_by_label("Days in trash").fill("5")
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    # The click lands in the same task as the swap, before htmx settles the new card's classes.
    page.evaluate("""document.addEventListener("htmx:afterSwap",
        () => document.querySelector(".category-link[data-slug=image]").click(), {once: true})""")
    page.get_by_label("Days in trash").press("Escape")
    expect(page.locator("#category-title")).to_have_text("Image Settings")
    assert questions == ["Discard 1 unsaved change?"]


def axe_violations(page: Page, live_server) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=f"{live_server.url}{AXE}")
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                             nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_category_passes_axe_without_serious_violations(page: Page, live_server, admin_user, scheme):
    page.emulate_media(color_scheme=scheme)
    log_in(page, live_server, admin_user)
    problems = {}
    for category in CATEGORIES:
        open_category(page, live_server, category.slug)
        page.wait_for_load_state("networkidle")  # the htmx-loaded extras (OAuth URIs, ML test, …)
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in ("serious", "critical")]
        if serious:
            problems[category.slug] = serious
    assert not problems, "\n".join(f"{slug}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}"
                                   for slug, found in problems.items() for v in found)


# --- Screenshots for docs/settings-dashboard.md -------------------------------------------------------------


def test_screenshots_at_laptop_and_phone_widths_light_and_dark(page: Page, live_server, admin_user, tmp_path):
    target = DOCS_IMG if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, admin_user)
    written = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for device, size in (("laptop", {"width": 1360, "height": 900}), ("phone", PHONE)):
            page.set_viewport_size(size)
            open_category(page, live_server, "authentication")
            page.get_by_label("Enable OAuth login").check()
            page.get_by_label("Issuer URL").fill("https://login.example.com")
            path = target / f"settings-ux-{device}-{scheme}.png"
            settled_screenshot(page, path, page.get_by_label("Issuer URL"))
            written.append(path)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1360, "height": 900})
    open_category(page, live_server, "machine-learning")
    page.get_by_label("Filter CLIP models").fill("768")
    page.get_by_label("Enable machine learning").uncheck()
    page.locator("#section-machine-learning-2").evaluate("section => section.scrollIntoView({block: 'start'})")
    path = target / "settings-ux-dependent-fields.png"
    settled_screenshot(page, path, page.locator("#blocked-machine_learning_clip_model_name"))
    written.append(path)
    for path in written:
        assert path.stat().st_size > 10_000, path
