"""`make run`: migrate, make sure an administrator exists, then run the web server and the job workers
(with the scheduler) side by side until Ctrl+C, which stops all of them cleanly."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import BaseCommand, call_command

from media_app.services.upload import sweep_partial_uploads

STOP_GRACE_SECONDS = 20


class Command(BaseCommand):
    help = "Run the web server, the job workers and the scheduler (the embedded default of `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
        parser.add_argument("--no-jobs", action="store_true", help="Run the web server only.")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_admin")
        swept = sweep_partial_uploads()
        if swept:
            self.stdout.write(f"Removed {swept} partial upload(s) left by an earlier run.")
        self.stopping = False
        # Caught before any child starts: a Ctrl+C during start-up must stop the children too, not orphan them.
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        children = {"web": self._start_web(options)}
        if not options["no_jobs"]:
            children["jobs"] = subprocess.Popen([sys.executable, "manage.py", "runjobs"], cwd=settings.BASE_DIR)
        self.stdout.write(
            f"Serving on http://{options['host']}:{options['port']}/ (data in {settings.DATA_DIR}). "
            "Press Ctrl+C to stop."
        )
        exit_code = self._supervise(children)
        sys.exit(exit_code)

    def _start_web(self, options):
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"{options['host']}:{options['port']}",
            "--workers", str(options["web_workers"]), "--threads", "4",
            "--access-logfile", "-", "--graceful-timeout", str(STOP_GRACE_SECONDS - 5),
        ]
        return subprocess.Popen(command, cwd=settings.BASE_DIR)

    def _request_stop(self, signum, frame):
        self.stopping = True

    def _supervise(self, children: dict) -> int:
        exit_code = 0
        while not self.stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"The {name} process exited with code {child.returncode}; stopping.")
                    exit_code = child.returncode or 1
                    self.stopping = True
            time.sleep(0.5)
        self._stop(children)
        return exit_code

    def _stop(self, children: dict) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Stopped.")
