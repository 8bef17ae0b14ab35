from django.urls import path

from . import views

app_name = "media"

urlpatterns = [
    path("photos/", views.timeline, name="timeline"),
    path("photos/delete/", views.delete_selection, name="delete"),
    path("photos/share/", views.share_selection, name="share-create"),
    path("photos/<uuid:asset_id>/", views.asset_detail, name="asset"),
    path("trash/", views.trash, name="trash"),
    path("trash/restore/", views.trash_restore, name="trash-restore"),
    path("trash/delete/", views.trash_delete, name="trash-delete"),
    path("trash/empty/", views.trash_empty, name="trash-empty"),
    path("map/", views.map_page, name="map"),
    path("shared-links/", views.shared_links, name="shared-links"),
    path("shared-links/<int:link_id>/delete/", views.shared_link_delete, name="shared-link-delete"),
    path("share/<str:key>/", views.shared_link, name="share"),
    path("share/<str:key>/<uuid:asset_id>/<str:size>/", views.shared_file, name="share-file"),
    path("api/memories", views.api_memories, name="api-memories"),
    path("api/assets/<uuid:asset_id>/thumbnail", views.asset_thumbnail, name="asset-thumbnail"),
    path("api/assets/<uuid:asset_id>/original", views.asset_original, name="asset-original"),
]
