from django.contrib import admin
from django.urls import include, path

from settings_app.views import custom_css
from users_app.views import home

handler404 = "config.views.not_found"

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
    path("admin/machine-learning/", include("ml_client.urls")),
    path("upload/", include("media_app.upload_urls")),
    path("console/", admin.site.urls),
    path("api/", include("users_app.api_urls")),
    path("api/oauth/", include("users_app.oauth_api_urls")),
    path("api/", include("settings_app.api_urls")),
    path("api/", include("jobs_app.api_urls")),
    path("api/", include("media_app.upload_api_urls")),
    path("api/", include("people_app.api_urls")),
    path("", include("media_app.urls")),
    path("", include("people_app.urls")),
]
