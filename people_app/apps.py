from django.apps import AppConfig


class PeopleAppConfig(AppConfig):
    name = "people_app"
    verbose_name = "People"

    def ready(self):
        from django.db.models.signals import post_delete

        from media_app.models import Asset

        from . import tasks  # noqa: F401  (registers the face and people job handlers)
        from .services import face_index

        post_delete.connect(face_index.asset_deleted, sender=Asset, dispatch_uid="people_app.asset_deleted")
