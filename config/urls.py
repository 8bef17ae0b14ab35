from django.contrib import admin
from django.urls import include, path

from api_app.api import api, immich_discovery
from notifications_app import views as notifications_views
from settings_app.views import custom_css
from users_app.views import home

# Under /api/ these answer in Immich's JSON shape; pages keep Django's HTML.
handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"

admin.site.site_header = "Photo Server — admin console"
admin.site.site_title = "Photo Server console"
admin.site.index_title = "Users and data"

urlpatterns = [
    path("", home, name="home"),
    path("custom.css", custom_css, name="custom-css"),
    path("", include("users_app.urls")),
    path("auth/oauth/", include("users_app.oauth_urls")),
    path("admin/system-settings/", include("settings_app.urls")),
    path("admin/jobs/", include("jobs_app.urls")),
    path("admin/libraries/", include("media_app.library_urls")),
    path("admin/integrity/", include("media_app.integrity_urls")),
    path("admin/storage-template/", include("media_app.storage_urls")),
    path("admin/machine-learning/", include("ml_client.urls")),
    path("admin/notifications/", include("notifications_app.urls")),
    path("account/notifications/", notifications_views.account_preferences, name="account-notifications"),
    path("upload/", include("media_app.upload_urls")),
    path("console/", admin.site.urls),
    path(".well-known/immich", immich_discovery, name="immich-discovery"),
    path("api/", api.urls),
    path("", include("media_app.urls")),
    path("", include("people_app.urls")),
    path("", include("albums_app.urls")),
    path("", include("search_app.urls")),
]
