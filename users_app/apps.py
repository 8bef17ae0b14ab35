from django.apps import AppConfig


class UsersAppConfig(AppConfig):
    name = "users_app"
    verbose_name = "Users"

    def ready(self):
        from . import oauth, tasks  # noqa: F401  the issuer URL config_validate handler; the user job handlers
