"""Content-Security-Policy on every response: scripts and styles only from this server (no inline script,
no eval), no plugins, no <base>, no framing. Images and map data may also come from the hosts of the
configured map styles (Map & GPS settings), read per response so a changed style applies at once.

Style attributes stay allowed (`style-src-attr 'unsafe-inline'`): the timeline's justified tiles and the
jobs progress bars are sized per item in the markup. <style> elements and inline scripts are refused."""

from urllib.parse import urlsplit

from settings_app.services import get_config

HEADER = "Content-Security-Policy"


def map_style_origins() -> list[str]:
    """Origins of the light and dark map styles (their tiles, glyphs and sprites usually live there too)."""
    config = get_config()
    origins = []
    for url in (config.map.lightStyle, config.map.darkStyle):
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else ""))
    return list(dict.fromkeys(origins))


def policy() -> str:
    maps = " ".join(map_style_origins())
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "style-src-attr": "'unsafe-inline'",
        "img-src": f"'self' data: blob: {maps}",
        "font-src": "'self' data:",
        "connect-src": f"'self' {maps}",
        "media-src": "'self' blob:",  # hls.js feeds <video> through a MediaSource object URL (blob:)
        "worker-src": "'self' blob:",  # MapLibre and hls.js start their workers from blob: URLs
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value.strip()}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault(HEADER, policy())
        return response
