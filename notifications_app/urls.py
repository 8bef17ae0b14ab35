"""Mounted at /admin/notifications/ (config/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("settings-extra", views.settings_extra, name="notifications-settings-extra"),
    path("preview/<slug:name>", views.preview, name="notifications-preview"),
    path("test-email", views.test_email, name="notifications-test-email"),
]
