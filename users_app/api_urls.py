from django.urls import path

from . import api

urlpatterns = [
    path("auth/login", api.login, name="api-login"),
    path("auth/logout", api.logout, name="api-logout"),
    path("api-keys", api.api_keys, name="api-keys"),
    path("api-keys/<str:key_id>", api.api_key, name="api-key"),
]
