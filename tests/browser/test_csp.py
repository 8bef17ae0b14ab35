"""The Content-Security-Policy breaks no page: the main pages load in chromium without a single
"Content Security Policy" console message, including the map loading its style and tiles from the
configured host (another origin, served here on 127.0.0.1). A control proves such messages are caught."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from settings_app.services import save_values
from tests.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CSP = "Content Security Policy"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


def _tile_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


class MapHost:
    """A map style host on another origin: style JSON and raster tiles, as a tile server answers."""

    def __init__(self):
        host = self
        self.requests: list[str] = []
        tile = _tile_png()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                host.requests.append(self.path)
                if self.path == "/style.json":
                    body, kind = json.dumps(host.style()).encode(), "application/json"
                elif self.path.startswith("/tiles/"):
                    body, kind = tile, "image/png"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def style(self) -> dict:
        return {"version": 8, "sources": {"raster": {"type": "raster", "tileSize": 256,
                                                     "tiles": [self.url + "/tiles/{z}/{x}/{y}.png"]}},
                "layers": [{"id": "raster", "type": "raster", "source": "raster"}]}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def map_host():
    host = MapHost()
    yield host
    host.close()


@pytest.fixture
def csp_messages(page: Page):
    messages = []
    page.on("console", lambda message: messages.append(message.text) if CSP in message.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    return messages


def visit(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def test_a_refused_inline_script_is_reported(page: Page, live_server, csp_messages):
    visit(page, f"{live_server.url}/login/")
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.ran = 1";
                      document.head.append(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") is None
    assert any("script-src" in text for text in csp_messages)
    assert page.evaluate("window.__cspViolations")


def test_main_pages_load_without_csp_violations(page: Page, live_server, admin_user, map_host, csp_messages):
    assert save_values({"map.lightStyle": map_host.url + "/style.json",
                        "map.darkStyle": map_host.url + "/style.json"}).ok
    base = live_server.url
    visit(page, f"{base}/login/")
    page.get_by_label("Email").fill(admin_user.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page).to_have_url(f"{base}/")
    violations = {}
    for path in ("/", "/upload/", "/admin/system-settings/", "/admin/system-settings/?isOpen=image",
                 "/admin/jobs/", "/console/", "/console/users_app/user/",
                 f"/console/users_app/user/{admin_user.pk}/change/", "/console/users_app/authfailure/", "/map/"):
        visit(page, base + path)
        if path == "/map/":
            page.wait_for_function("() => document.querySelector('#map canvas')")
            page.wait_for_timeout(1500)  # the worker fetches the tiles
        found = page.evaluate("window.__cspViolations")
        if found:
            violations[path] = found
    assert violations == {} and csp_messages == []
    assert "/style.json" in map_host.requests
    assert any(request.startswith("/tiles/") for request in map_host.requests)  # the tiles loaded too
