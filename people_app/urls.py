from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("people/", views.people_page, name="index"),
    path("people/recluster/", views.recluster, name="recluster"),
    path("people/<uuid:person_id>/", views.person_page, name="person"),
    path("people/<uuid:person_id>/edit/", views.person_edit, name="person-edit"),
    path("people/<uuid:person_id>/merge/", views.person_merge, name="person-merge"),
    path("people/faces/<uuid:face_id>/assign/", views.face_assign, name="face-assign"),
    path("people/photo/<uuid:asset_id>/faces/", views.asset_faces, name="asset-faces"),
]
