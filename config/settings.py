"""Django settings. Everything the administrator can change at run time lives in settings_app,
not here: this file holds only what a process needs before it can reach the database."""

import os
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    DATA_DIR=(str, str(BASE_DIR / "data")),
    DATABASE_URL=(str, ""),
    REDIS_URL=(str, ""),
    SETTINGS_CONFIG_FILE=(str, ""),
    LOG_LEVEL=(str, ""),
    TIME_ZONE=(str, ""),
    HTTPS=(bool, False),
    TRUSTED_PROXY_COUNT=(int, 0),
)

DATA_DIR = Path(env("DATA_DIR")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    if env.str("SECRET_KEY", default=""):
        return env.str("SECRET_KEY")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "config.views.csrf_failure"

# HTTPS=true for a deployment served over HTTPS (usually behind a reverse proxy that terminates TLS and
# sets X-Forwarded-Proto): cookies only travel over HTTPS and browsers are told to use HTTPS for a year.
HTTPS = env("HTTPS")
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies in front of the server whose X-Forwarded-For is trusted for the client address (login
# throttling); 0 = use the connection's address.
TRUSTED_PROXY_COUNT = env("TRUSTED_PROXY_COUNT")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "users_app",
    "settings_app",
    "jobs_app",
    "media_app",
    "api_app",
    "ml_client",
    "people_app",
    "albums_app",
    "notifications_app",
    "search_app",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api_app.middleware.ApiJsonErrorsMiddleware",  # outermost but static: every /api/ answer is JSON
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.HtmxLoginRedirectMiddleware",
    "config.middleware.FaultMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "settings_app.context_processors.release_notice",
            ],
        },
    },
]

# --- Database: embedded SQLite (WAL) by default, PostgreSQL via DATABASE_URL ---------------------
if env("DATABASE_URL"):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # A file (not :memory:) so that worker subprocesses started by tests can share it; one per
            # test run so that parallel runs do not clobber each other.
            "TEST": {"NAME": DATA_DIR / f"test-db-{os.getpid()}.sqlite3"},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy timeout
    # instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users_app.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE") or env.str("TZ", default="") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from the finders, but warns if this is missing
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Background jobs ---------------------------------------------------------------------------------
# The job table in the database is the queue; with REDIS_URL, Redis pub/sub wakes idle workers at once
# (jobs_app.shared).
REDIS_URL = env("REDIS_URL")
# jobs_app.cluster runs django-q2's process machinery with its own broker (jobs_app.broker), so django-q2
# reads only these keys: "name" salts the signature of task packages; "timeout" and "retry" only keep
# django-q2's start-up check quiet (each job's timeout is its queue's, in jobs_app.queues).
Q_CLUSTER = {"name": "photoserver", "timeout": 3600, "retry": 3660}

# --- Settings framework ----------------------------------------------------------------------------
SETTINGS_CONFIG_FILE = env("SETTINGS_CONFIG_FILE")
# Like IMMICH_LOG_LEVEL: when set, it overrides the Logging settings, which then cannot be saved.
LOG_LEVEL_OVERRIDE = env("LOG_LEVEL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
