from django.urls import path

from . import views

app_name = "settings"
urlpatterns = [
    path("", views.index, name="index"),
    path("export.json", views.export_config, name="export"),
    path("import/", views.import_config, name="import"),
    path("rerun/", views.rerun, name="rerun"),
    path("cron-runs/<str:column>/", views.cron_runs, name="cron-runs"),
    path("history/<int:change_id>/revert/", views.revert, name="revert"),
    path("version-notice/dismiss/", views.dismiss_release, name="dismiss-release"),
    path("<slug:slug>/", views.category_view, name="category"),
    path("<slug:slug>/history/", views.history, name="history"),
]
