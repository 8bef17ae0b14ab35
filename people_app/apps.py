from django.apps import AppConfig


class PeopleAppConfig(AppConfig):
    name = "people_app"
    verbose_name = "People"

    def ready(self):
        from django.db.models.signals import post_delete

        from media_app.models import Asset
        from media_app.services import integrity

        from . import tasks  # noqa: F401  (registers the face and people job handlers)
        from .services import face_index, thumbnails

        post_delete.connect(face_index.asset_deleted, sender=Asset, dispatch_uid="people_app.asset_deleted")
        integrity.register_tracked_files(thumbnails.tracked_thumbnails)
