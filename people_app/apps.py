from django.apps import AppConfig


class PeopleAppConfig(AppConfig):
    name = "people_app"
    verbose_name = "People"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the face and people job handlers)
