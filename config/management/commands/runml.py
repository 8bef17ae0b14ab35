"""`manage.py runml --port 3003 [--host 0.0.0.0]`: the machine-learning service (Immich's ML protocol).

It needs no database: on a separate machine, run it from a checkout of the same code and point the
Machine Learning URL setting at it."""

from django.core.management.base import BaseCommand

from ml_service.server import add_arguments, serve


class Command(BaseCommand):
    help = "Run the machine-learning service (face detection and recognition) over HTTP."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        serve(options["host"], options["port"])
