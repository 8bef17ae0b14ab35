from django.urls import path

from . import views

app_name = "albums"

urlpatterns = [
    path("albums/", views.album_list, name="list"),
    path("albums/new/", views.album_create, name="create"),
    path("albums/add-selection/", views.add_selection, name="add-selection"),
    path("albums/picker/", views.album_picker, name="picker"),
    path("albums/for-asset/<uuid:asset_id>/", views.asset_panel, name="asset-panel"),
    path("albums/<uuid:album_id>/", views.album_detail, name="detail"),
    path("albums/<uuid:album_id>/edit/", views.album_update, name="update"),
    path("albums/<uuid:album_id>/cover/", views.album_cover, name="cover"),
    path("albums/<uuid:album_id>/delete/", views.album_delete, name="delete"),
    path("albums/<uuid:album_id>/remove-assets/", views.album_remove_assets, name="remove-assets"),
    path("albums/<uuid:album_id>/share/", views.album_share, name="share"),
    path("albums/<uuid:album_id>/users/<int:user_id>/role/", views.album_member_role, name="member-role"),
    path("albums/<uuid:album_id>/users/<int:user_id>/remove/", views.album_member_remove, name="member-remove"),
    path("albums/<uuid:album_id>/link/", views.album_link, name="link"),
    path("albums/<uuid:album_id>/assets/<uuid:asset_id>/<str:size>/", views.album_file, name="file"),
]
