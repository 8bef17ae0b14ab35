from django.urls import path

from . import views

app_name = "search"

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("duplicates/", views.duplicates_page, name="duplicates"),
    path("duplicates/<uuid:duplicate_id>/resolve/", views.resolve_duplicates, name="duplicates-resolve"),
    path("admin/machine-learning/search-status/", views.ml_status, name="ml-status"),
]
