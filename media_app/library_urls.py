from django.urls import path

from . import library_views

app_name = "libraries"

urlpatterns = [
    path("", library_views.library_list, name="list"),
    path("new/", library_views.library_create, name="create"),
    path("<str:library_id>/", library_views.library_edit, name="edit"),
    path("<str:library_id>/scan/", library_views.library_scan, name="scan"),
    path("<str:library_id>/delete/", library_views.library_delete, name="delete"),
]
