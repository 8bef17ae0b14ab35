from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_migrate


class SettingsAppConfig(AppConfig):
    name = "settings_app"
    verbose_name = "System settings"

    def ready(self):
        from . import config_file, listeners, tasks, validators  # noqa: F401  (registers event and job handlers)
        from .events import on_config_update
        from .version_check import check_when_switched_on

        on_config_update(check_when_switched_on)

        if settings.LOG_LEVEL_OVERRIDE and settings.LOG_LEVEL_OVERRIDE not in listeners.LOG_LEVELS:
            raise ImproperlyConfigured(
                f"LOG_LEVEL={settings.LOG_LEVEL_OVERRIDE!r} is not one of {', '.join(listeners.LOG_LEVELS)}."
            )
        config_file.load_from_settings()
        post_migrate.connect(_create_category_rows, sender=self)
        post_migrate.connect(_record_running_version, sender=self)


def _create_category_rows(sender, using="default", **kwargs):
    from .models import CATEGORY_MODELS, ConfigState

    for model in CATEGORY_MODELS.values():
        model.objects.using(using).get_or_create(pk=1)
    ConfigState.objects.using(using).get_or_create(pk=1)


def _record_running_version(sender, using="default", **kwargs):
    from .version_check import record_running_version

    record_running_version()
