from django.urls import path

from . import api_views

urlpatterns = [
    path("people", api_views.people_collection, name="api-people"),
    path("people/<uuid:person_id>", api_views.person_detail, name="api-person"),
    path("people/<uuid:person_id>/merge", api_views.person_merge, name="api-person-merge"),
    path("people/<uuid:person_id>/statistics", api_views.person_statistics, name="api-person-statistics"),
    path("people/<uuid:person_id>/thumbnail", api_views.person_thumbnail, name="api-person-thumbnail"),
    path("faces", api_views.faces, name="api-faces"),
]
