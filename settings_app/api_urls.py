from django.urls import path

from . import api

urlpatterns = [
    path("system-config", api.system_config, name="api-system-config"),
    path("system-config/defaults", api.system_config_defaults, name="api-system-config-defaults"),
    path("system-config/storage-template-options", api.storage_template_options,
         name="api-storage-template-options"),
    path("server/config", api.server_config, name="api-server-config"),
    path("server/features", api.server_features, name="api-server-features"),
    path("server/ping", api.server_ping, name="api-server-ping"),
    path("server/version", api.server_version, name="api-server-version"),
    path("server/version-check", api.server_version_check, name="api-server-version-check"),
    path("server/version-history", api.server_version_history, name="api-server-version-history"),
    path("server/theme", api.server_theme, name="api-server-theme"),
]
