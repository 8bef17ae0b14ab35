"""`make run`: migrate, make sure an administrator exists, then run the web server and the job workers
(with the scheduler) side by side until Ctrl+C, which stops all of them cleanly (see config.supervisor)."""

import errno
import os
import signal
import socket
import sys

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command

from config.supervisor import Child, Supervisor
from jobs_app import conf as jobs_conf
from media_app.services.upload import sweep_partial_uploads

# Requests still running when the web server stops get this long; it is shorter than the supervisor's
# wait, so a clean stop never ends in a SIGKILL.
WEB_GRACE_SECONDS = 10
# Beyond the longest grace period: runjobs also joins its pusher and monitor after its running jobs.
STOP_MARGIN_SECONDS = 20


def listen(host: str, port: int) -> socket.socket:
    """The web server's listening socket, bound here so that a busy port fails before anything starts;
    gunicorn inherits it (fd://)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CommandError(f"Port {port} on {host} is already in use (is another server running?). Stop it, "
                               "or choose another port with --port or the PORT environment variable.")
        raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror or error}.")


class Command(BaseCommand):
    help = "Run the web server, the job workers and the scheduler (the embedded default of `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
        parser.add_argument("--no-jobs", action="store_true", help="Do not run the job workers and scheduler.")
        parser.add_argument("--no-ml", action="store_true",
                            help="Do not run the machine-learning service (e.g. when it runs on another machine).")
        parser.add_argument("--ml-port", type=int, default=int(os.environ.get("ML_PORT", "3003")))

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        listener = listen(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_admin")
        swept = sweep_partial_uploads()
        if swept:
            self.stdout.write(f"Removed {swept} partial upload(s) left by an earlier run.")
        web = Child("web server", self._web_command(listener.fileno(), options["web_workers"]),
                    cwd=str(settings.BASE_DIR), pass_fds=(listener.fileno(),))
        jobs = None if options["no_jobs"] else Child("job workers", [sys.executable, "manage.py", "runjobs"],
                                                     cwd=str(settings.BASE_DIR))
        ml = None if options["no_ml"] else Child(
            "machine-learning service",
            [sys.executable, "manage.py", "runml", "--host", "127.0.0.1", "--port", str(options["ml_port"])],
            cwd=str(settings.BASE_DIR))
        supervisor = Supervisor(web, jobs, ml, stop_wait=max(WEB_GRACE_SECONDS, jobs_conf.STOP_GRACE_SECONDS)
                                + STOP_MARGIN_SECONDS)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        supervisor.start()
        listener.close()  # gunicorn holds it now
        if supervisor.wait_until_serving(host, port):
            self.stdout.write(f"Serving on http://{host}:{port}/ (data in {settings.DATA_DIR}). Press Ctrl+C to stop.")
            self.stdout.flush()
        exit_code = supervisor.run()
        self.stdout.write("Stopped.")
        sys.exit(exit_code)

    @staticmethod
    def _web_command(fd: int, workers: int) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"fd://{fd}",
            "--workers", str(workers), "--threads", "4", "--access-logfile", "-",
            "--graceful-timeout", str(WEB_GRACE_SECONDS),
        ]
