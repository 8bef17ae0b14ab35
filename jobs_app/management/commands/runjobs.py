"""`manage.py runjobs`: the job workers and the cron scheduler of this machine, in the foreground until
SIGINT/SIGTERM. Run it on as many machines as you like with the same DATABASE_URL (and REDIS_URL):
concurrency limits, pauses and schedules hold across all of them."""

import importlib
import logging

from django.conf import settings
from django.core.management import BaseCommand, CommandError
from django.db import connection, connections

from jobs_app import conf
from jobs_app.cluster import JobSentinel
from jobs_app.queues import QUEUES_BY_NAME
from jobs_app.signals import runjobs_starting
from settings_app.services import get_config


def keep_database_connections() -> None:
    """Worker processes are long-lived: keep each one's database connection between jobs instead of
    Django's default for SQLite (CONN_MAX_AGE 0), which makes django-q2 reconnect before every job."""
    for alias, database in settings.DATABASES.items():
        if not database.get("CONN_MAX_AGE"):
            database["CONN_MAX_AGE"] = None
            connections[alias].settings_dict["CONN_MAX_AGE"] = None


class Command(BaseCommand):
    help = "Run the job workers (every queue, live concurrency) and the scheduler until Ctrl+C / SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--queues", default="",
                            help="Comma-separated queue names this machine serves (default: all).")
        parser.add_argument("--no-scheduler", action="store_true",
                            help="Do not run cron schedules here (they are single-instance anyway).")
        parser.add_argument("--grace", type=float, default=conf.STOP_GRACE_SECONDS,
                            help="Seconds running jobs get to finish when stopping (default %(default)s).")
        parser.add_argument("--max-processes", type=int, default=conf.MAX_PROCESSES, metavar="N",
                            help="Pool processes on this machine at most, whatever the queues' concurrencies add "
                                 "up to (default: JOBS_MAX_PROCESSES or the CPU count, here %(default)s).")
        parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                            help="Import a module that registers extra job handlers (tests, benchmarks).")

    def handle(self, *args, **options):
        names = [name.strip() for name in options["queues"].split(",") if name.strip()] or list(QUEUES_BY_NAME)
        unknown = [name for name in names if name not in QUEUES_BY_NAME]
        if unknown:
            raise CommandError(f"Unknown queue(s): {', '.join(unknown)}. Known: {', '.join(QUEUES_BY_NAME)}.")
        if options["max_processes"] < 1:
            raise CommandError("--max-processes (or JOBS_MAX_PROCESSES) must be at least 1, "
                               f"got {options['max_processes']}.")
        for module in options["imports"]:
            importlib.import_module(module)
        if options["verbosity"] < 2:
            logging.getLogger("django-q").setLevel(logging.WARNING)  # one line per task is too much
        keep_database_connections()
        get_config()  # config_init: log level etc. before the pool forks
        connection.close()
        self.stdout.write(f"Job workers starting for {len(names)} queue(s); Ctrl+C stops them.")
        self.stdout.flush()
        runjobs_starting.send(sender=self.__class__)  # e.g. library watching, in its own process
        JobSentinel(names, run_scheduler=not options["no_scheduler"], grace=options["grace"],
                    max_processes=options["max_processes"]).start()
        self.stdout.write("Job workers stopped.")
