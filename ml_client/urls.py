"""Mounted at /admin/machine-learning/ (config/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("settings-extra", views.settings_extra, name="ml-settings-extra"),
    path("test", views.test_urls, name="ml-test-urls"),
]
