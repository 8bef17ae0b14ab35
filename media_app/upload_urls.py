from django.urls import path

from . import upload_views

app_name = "upload"

urlpatterns = [
    path("", upload_views.upload_page, name="page"),
    path("files/", upload_views.upload_files, name="files"),
]
