from django.urls import path

from . import upload_views

urlpatterns = [
    path("assets", upload_views.api_upload_asset, name="api-upload-asset"),
]
