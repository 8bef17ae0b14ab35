from django.urls import path

from . import integrity_views

app_name = "integrity"

urlpatterns = [
    path("", integrity_views.integrity_reports, name="reports"),
    path("check/", integrity_views.integrity_check_now, name="check"),
    path("<slug:action>/", integrity_views.integrity_action, name="action"),
]
