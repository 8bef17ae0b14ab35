from django.apps import AppConfig


class MediaAppConfig(AppConfig):
    name = "media_app"
    verbose_name = "Media"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the media job handlers and the user purge receiver)
