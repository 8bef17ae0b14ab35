"""Serving the ML application: gunicorn, one worker process (the models load once) with request threads,
so ``/ping`` answers while a prediction runs."""

import argparse
import logging
import os

from gunicorn.app.base import BaseApplication

DEFAULT_PORT = 3003  # Immich's


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # control_socket_disable exists from gunicorn 24 on
                self.cfg.set(key, value)

    def load(self):
        # imported here so the models' libraries load in the worker process, not in the supervising one
        from ml_service.app import create_app

        return create_app()


def request_threads() -> int:
    return max(1, int(os.environ.get("ML_REQUEST_THREADS") or 4))


def serve(host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s ml %(levelname)s %(message)s")
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": request_threads(),
            "timeout": 300,  # a first request loads the models; a huge image takes seconds
            "graceful_timeout": 10,
            "proc_name": "photoserver-ml",
            "accesslog": None,
            "errorlog": "-",
            "control_socket_disable": True,  # one fixed socket path per user would clash with other gunicorns
        }
    ).run()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Machine-learning service speaking Immich's ML protocol.")
    add_arguments(parser)
    options = parser.parse_args(argv)
    serve(options.host, options.port)


def add_arguments(parser) -> None:
    parser.add_argument("--host", default=os.environ.get("ML_HOST", "127.0.0.1"), help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("ML_PORT") or DEFAULT_PORT), help="port (default 3003)"
    )
