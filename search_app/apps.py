from django.apps import AppConfig


class SearchAppConfig(AppConfig):
    name = "search_app"
    verbose_name = "Search"

    def ready(self):
        from django.db.models.signals import post_delete

        from media_app.models import Asset

        from . import tasks  # noqa: F401  (registers the smart search, duplicate and OCR job handlers)
        from .services import index

        post_delete.connect(index.asset_deleted, sender=Asset, dispatch_uid="search_app.asset_deleted")
