"""A second process for propagation tests: prints a JSON line each time it sees the settings change."""

import json
import logging
import os
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from settings_app import events  # noqa: E402
from settings_app.services import get_config  # noqa: E402
from settings_app.watcher import start_config_watcher  # noqa: E402


@events.on_config_update
def report(old, new):
    print(json.dumps({"seen_at": time.time(), "thumbnail_size": new.image.thumbnail.size,
                      "root_log_level": logging.getLogger().level}), flush=True)


get_config()
start_config_watcher()
print(json.dumps({"ready": True, "root_log_level": logging.getLogger().level}), flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 30)
