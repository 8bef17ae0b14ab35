"""Mounted at /auth/oauth/ (config/urls.py); the Immich API endpoints are in users_app.oauth_api."""

from django.urls import path

from . import oauth_views

urlpatterns = [
    path("start/", oauth_views.start, name="oauth-start"),
    path("callback/", oauth_views.callback, name="oauth-callback"),
    path("settings-extra", oauth_views.settings_extra, name="oauth-settings-extra"),
    path("test-config", oauth_views.test_config, name="oauth-test-config"),
]
