from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsAppConfig(AppConfig):
    name = "jobs_app"
    verbose_name = "Jobs"

    def ready(self):
        from settings_app.events import on_config_update

        from . import schedules, tasks  # noqa: F401  (tasks registers the job handlers)

        on_config_update(schedules.reschedule_on_config_update)
        post_migrate.connect(_create_queue_rows, sender=self)


def _create_queue_rows(sender, using="default", **kwargs):
    from .models import QueueState
    from .queues import QUEUES

    for queue in QUEUES:
        QueueState.objects.using(using).get_or_create(name=queue.name)
