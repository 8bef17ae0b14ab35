import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from settings_app.watcher import start_config_watcher  # noqa: E402  (needs the apps loaded)

start_config_watcher()
