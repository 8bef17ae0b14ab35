"""The Authentication category loads the OAuth extras: the redirect URIs to register at the provider and
the "Test configuration" button, which tests the form's unsaved values."""

import pytest

pytestmark = pytest.mark.django_db


def test_authentication_category_loads_the_oauth_extras(admin_client, htmx_headers):
    page = admin_client.get("/admin/system-settings/authentication/", **htmx_headers).content.decode()
    assert 'hx-get="/auth/oauth/settings-extra"' in page
    other = admin_client.get("/admin/system-settings/trash/", **htmx_headers).content.decode()
    assert "/auth/oauth/settings-extra" not in other


def test_the_extras_name_the_exact_redirect_uris(admin_client, settings):
    settings.ALLOWED_HOSTS = ["photos.example.com"]
    fragment = admin_client.get("/auth/oauth/settings-extra", HTTP_HOST="photos.example.com").content.decode()
    assert "http://photos.example.com/auth/oauth/callback/" in fragment
    assert 'hx-post="/auth/oauth/test-config"' in fragment and 'hx-include="closest form"' in fragment
