from django.apps import AppConfig


class NotificationsAppConfig(AppConfig):
    name = "notifications_app"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers, tasks, validators  # noqa: F401  (registers signal, job and config handlers)
