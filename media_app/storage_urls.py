from django.urls import path

from . import storage_views

app_name = "storage-template"

urlpatterns = [
    path("tools/", storage_views.tools, name="tools"),
    path("preview/", storage_views.preview, name="preview"),
    path("dry-run/", storage_views.dry_run, name="dry-run"),
]
