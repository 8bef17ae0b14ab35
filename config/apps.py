from django.apps import AppConfig


class ServerConfig(AppConfig):
    """The project package as an app, so that it can carry the `serve` command."""

    name = "config"
    verbose_name = "Server"
