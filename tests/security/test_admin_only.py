"""Every dashboard page and admin API endpoint is for administrators only, proven by enumerating the URL
patterns: anonymous visitors are sent to login (pages) or get 401 (API); signed-in users get 403."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# The only endpoints open to non-administrators: login/logout, a user's own theme, the public server info
# Immich also serves without login, a user's own API keys, the OAuth flow, the custom CSS. Everything else
# must be admin-only.
NOT_ADMIN_ONLY = re.compile(
    r"^(|custom\.css|login/|logout/|account/theme/|auth/oauth/(start|callback)/|api/auth/(login|logout)|api/api-keys.*"
    r"|api/oauth/(authorize|callback|link|unlink|mobile-redirect)"
    r"|api/server/(config|features|ping|version|theme|about|media-types|storage)|\.well-known/immich"
    # A user's own account, assets, timeline, map and trash (each shows only the signed-in user's).
    r"|api/users/.*|api/assets/(bulk-upload-check|exist|statistics|<uuid\w*:asset_id>)|api/timeline/.*|api/map/markers"
    r"|api/trash/.*"
    # A user's own photos (each view shows only the signed-in user's assets), public shared links, uploads.
    r"|photos/.*|trash/.*|map/|share/.*|shared-links/.*|api/assets/<uuid\w*:asset_id>/(thumbnail|original|video/playback|video/hls/.*)"
    r"|upload/.*"
    r"|api/assets|api/memories"
    # A user's own people and faces (each view shows only the signed-in user's).
    r"|people/.*|api/people.*|api/faces"
    # Albums a user owns or that are shared with them (albums_app checks the role), their own email choices.
    r"|albums/.*|api/albums.*|account/notifications/"
    # A user's own search and duplicate groups.
    r"|search/|duplicates/.*|api/search/(smart|metadata)|api/duplicates"
    # The OpenAPI document is public, as Immich's; the API root only answers 404.
    r"|api/spec\.json|api/)$"
)
SAMPLE_ARGUMENTS = {"slug": "image", "name": "thumbnailGeneration", "pk": "1", "id": "1", "change_id": "1",
                    "queue": "thumbnailGeneration", "path": "x"}


def _patterns(resolvers, prefix=""):
    for entry in resolvers:
        pattern = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, prefix + pattern)
        elif isinstance(entry, URLPattern):
            yield prefix + pattern


def _concrete(pattern: str) -> str:
    def sample(match):
        return SAMPLE_ARGUMENTS.get(match.group(2), "1")

    path = re.sub(r"<(?:(\w+):)?(\w+)>", sample, pattern)
    return "/" + path.lstrip("^").rstrip("$").replace("\\", "")


def admin_urls() -> list[str]:
    """Every URL of the project except the allow-listed ones and the Django console (tested below)."""
    urls = []
    for pattern in _patterns(get_resolver().url_patterns):
        if not pattern.startswith("console/") and not NOT_ADMIN_ONLY.match(pattern):
            urls.append(_concrete(pattern))
    return sorted(set(urls))


def test_the_enumeration_finds_the_admin_areas():
    urls = admin_urls()
    assert "/admin/system-settings/" in urls
    assert "/admin/jobs/" in urls
    assert "/auth/oauth/test-config" in urls
    assert any(url.startswith("/api/system-config") for url in urls)
    assert any(url.startswith("/api/queues") for url in urls)
    assert {"/api/admin/users", "/api/admin/users/1", "/api/admin/users/1/restore", "/api/admin/users/1/statistics",
            "/api/admin/users/1/preferences", "/api/server/statistics", "/api/server/license"} <= set(urls)


@pytest.mark.django_db
@pytest.mark.parametrize("url", admin_urls())
def test_anonymous_is_sent_to_login_or_gets_401(client, url):
    statuses = []
    for method in ("get", "post", "put", "delete"):
        response = getattr(client, method)(url)
        statuses.append(response.status_code)
        if url.startswith("/api/"):
            assert response.status_code in (401, 405), (method, url, response.status_code)
        else:
            assert response.status_code in (302, 405), (method, url, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), (method, url)
    assert set(statuses) != {405}, url


@pytest.mark.django_db
@pytest.mark.parametrize("url", admin_urls())
def test_non_admin_gets_403(user_client, url):
    statuses = [getattr(user_client, method)(url).status_code for method in ("get", "post", "put", "delete")]
    assert set(statuses) <= {403, 405}, (url, statuses)
    assert 403 in statuses, url


@pytest.mark.django_db
def test_the_django_console_is_closed_to_non_admins(user_client, client):
    assert client.get("/console/")["Location"].startswith("/console/login/")
    response = user_client.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


@pytest.mark.django_db
def test_posts_without_csrf_token_are_refused_for_session_users(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    for url in admin_urls():
        response = client.post(url)
        assert response.status_code in (403, 405), (url, response.status_code)
