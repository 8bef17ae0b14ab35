from django.apps import AppConfig


class MlClientConfig(AppConfig):
    name = "ml_client"
    verbose_name = "Machine learning client"
