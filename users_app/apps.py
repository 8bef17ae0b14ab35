from django.apps import AppConfig


class UsersAppConfig(AppConfig):
    name = "users_app"
    verbose_name = "Users"

    def ready(self):
        from . import oauth  # noqa: F401  registers the issuer URL config_validate handler
