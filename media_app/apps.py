from django.apps import AppConfig


class MediaAppConfig(AppConfig):
    name = "media_app"
    verbose_name = "Media"

    def ready(self):
        from jobs_app.signals import runjobs_starting
        from settings_app.events import on_config_init, on_config_update, on_config_validate

        from . import tasks  # noqa: F401  (registers the media job handlers and the user purge receiver)
        from .services import transcode, watcher

        on_config_validate(transcode.validate_hardware)

        # Only the watcher process (started by runjobs) acts on these: watching toggles live.
        on_config_init(watcher.on_config)
        on_config_update(watcher.on_config)
        runjobs_starting.connect(watcher.start_watcher_process, dispatch_uid="media_app.library_watcher")
