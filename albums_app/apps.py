from django.apps import AppConfig


class AlbumsAppConfig(AppConfig):
    name = "albums_app"
    verbose_name = "Albums"
    default_auto_field = "django.db.models.BigAutoField"
