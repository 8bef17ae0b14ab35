"""Immich's OAuth API, mounted at /api/oauth/ (config/urls.py)."""

from django.urls import path

from . import oauth_views

urlpatterns = [
    path("authorize", oauth_views.api_authorize, name="api-oauth-authorize"),
    path("callback", oauth_views.api_callback, name="api-oauth-callback"),
    path("link", oauth_views.api_link, name="api-oauth-link"),
    path("unlink", oauth_views.api_unlink, name="api-oauth-unlink"),
    path("mobile-redirect", oauth_views.api_mobile_redirect, name="api-oauth-mobile-redirect"),
]
