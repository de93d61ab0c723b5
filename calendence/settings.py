"""Settings for Calendence Webhooks.

Twelve-factor: everything comes from the environment (each name is listed in
docs/operations.md, "Configuration"), and with nothing set the project runs on embedded defaults: SQLite
under var/ and kombu's filesystem transport as the Celery broker.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from calendence.process_role import database_application_name
from calendence.secrets_key import development_secrets_key, fernet_keys

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CALENDENCE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

VERSION = "1.0.0"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


CALENDENCE_ENV = os.environ.get("CALENDENCE_ENV", "development")
PRODUCTION = CALENDENCE_ENV == "production"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when CALENDENCE_ENV=production")
    SECRET_KEY = "development-only-key-not-for-production"

# Comma-separated Fernet keys that encrypt the webhooks' signing secrets at rest: the first
# encrypts, every one decrypts (docs/operations.md, "Upgrades": rotating the key).
WEBHOOK_SECRETS_KEY = os.environ.get("WEBHOOK_SECRETS_KEY", "")
if not WEBHOOK_SECRETS_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("WEBHOOK_SECRETS_KEY is required when CALENDENCE_ENV=production")
    WEBHOOK_SECRETS_KEY = development_secrets_key(VAR_DIR / "secrets.key")
fernet_keys(WEBHOOK_SECRETS_KEY)  # a malformed key stops every process at start, not at first use

DEBUG = not PRODUCTION
# Production answers only the host names it is given, and this machine's own by default
# (so a production-shaped run on one machine, or a health check from beside it, works).
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if PRODUCTION else "*").split(",")
]
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the docs page's assets, served by us (no CDN)
    "axes",
    "bookings",
    "webhooks",
    "deliveries",
    "portal",
    "console",
]

MIDDLEWARE = [
    "calendence.middleware.RequestBodyLimitMiddleware",
    "calendence.middleware.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the admin's static files under gunicorn
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out admin login into its answer
    # Last, so its process_exception is asked first: an outage is a 503, in every environment.
    "calendence.middleware.DatabaseUnavailableMiddleware",
]

# --- Admin logins -----------------------------------------------------------------
# django-axes counts failed logins per username and address together: after the limit
# that pair is refused (429) until the cool-off has passed, even with the right password.
# The API is unaffected: its Bearer keys never go through django.contrib.auth's authenticate().
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= timedelta(0):
    raise ImproperlyConfigured("ADMIN_LOGIN_FAILURE_LIMIT and ADMIN_LOGIN_COOLOFF_MINUTES must be positive")
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "calendence.urls"
# Request bodies over 1 MiB are refused with 413 (calendence.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "calendence" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "calendence.wsgi.application"

# --- Database -----------------------------------------------------------------
# Web, worker and beat share one SQLite file in development: WAL lets readers and
# one writer work at once, IMMEDIATE transactions take the write lock up front
# (no failed lock upgrade), and the timeout makes a writer wait instead of failing
# with "database is locked".
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'calendence.sqlite3'}",  # empty: unset
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
else:
    database_options = DATABASES["default"].setdefault("OPTIONS", {})
    # An unreachable database fails a request (and /readyz) in seconds, not minutes.
    database_options["connect_timeout"] = 5
    # calendence-web, -worker, -beat in pg_stat_activity (docs/operations.md, "Database connections");
    # ?application_name=... in DATABASE_URL wins.
    database_options.setdefault("application_name", database_application_name(sys.argv))
    # The delivery engine's statements are prepared on each connection (calendence/prepared_statements.py;
    # the ORM's never are). psycopg prepares nothing while this is None; that cursor asks on a statement's
    # first use, so the number itself does not matter. Off for a pooler in transaction mode that does not
    # keep prepared statements.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        database_options["prepare_threshold"] = 5

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_cache(url: str) -> dict:
    """Django's Redis cache at `url` (with one client per process: calendence/cache.py). A Redis
    that does not answer costs a call a second, not the system's TCP timeout: the API goes on
    without it (calendence/throttling.py, bookings/api_key_cache.py)."""
    return {
        "BACKEND": "calendence.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


# The cache holds the API rate-limit counters and the live API keys: shared by every web
# process when CACHE_URL names a Redis; per process otherwise, where no key is cached.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": redis_cache(CACHE_URL) if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
# Times to the second with their time zone, in the console and every page (calendence/formats/en).
FORMAT_MODULE_PATH = ["calendence.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Filled by `collectstatic` (the Docker image does it at build) and served by WhiteNoise.
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {"quiet_routine_tasks": {"()": "calendence.log_filters.QuietRoutineTasks"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # No lines for a sweep that found nothing (every WEBHOOK_SWEEP_INTERVAL_SECONDS).
        **{
            name: {"filters": ["quiet_routine_tasks"]}
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
        },
        # Failed admin logins and lockouts are warnings; axes' start banner and successes are noise.
        "axes": {"level": "WARNING"},
    },
}

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["calendence.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "calendence.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "calendence.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["calendence.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("API_RATE_LIMIT", "1200/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Calendence Webhooks API",
    "DESCRIPTION": (
        "Register HTTPS endpoints and receive signed JSON events when bookings are "
        "created, rescheduled, cancelled or completed."
    ),
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Our PATCH serializers say themselves which fields are optional.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "calendence.openapi.add_common_error_responses",
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The docs page's scripts come from drf-spectacular-sidecar, served as our static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.Booking.Status",
        "DeliveryStatusEnum": "deliveries.models.Delivery.Status",
    },
}

# --- The portal (portal/) ------------------------------------------------------------
# A link into a business's portal works once, for PORTAL_LINK_SECONDS; the session it
# starts lasts at most PORTAL_SESSION_SECONDS, however active.
PORTAL_LINK_SECONDS = env_int("PORTAL_LINK_SECONDS", 600)
PORTAL_SESSION_SECONDS = env_int("PORTAL_SESSION_SECONDS", 3600)
if PORTAL_LINK_SECONDS < 1 or PORTAL_SESSION_SECONDS < 1:
    raise ImproperlyConfigured("PORTAL_LINK_SECONDS and PORTAL_SESSION_SECONDS must be positive")
# Origins allowed to show the portal in an iframe (space-separated), e.g. the platform's dashboard.
PORTAL_FRAME_ANCESTORS = os.environ.get("PORTAL_FRAME_ANCESTORS", "").split()
# Where links point, e.g. https://webhooks.example.com. Empty: the API answers with the origin
# it was called on, and `manage.py portal_link` with http://127.0.0.1:$PORT.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "").rstrip("/")
if PORTAL_FRAME_ANCESTORS:
    # Inside another site's iframe the browser sends our cookies only if they are
    # SameSite=None, which it accepts only with Secure: the embedded portal needs HTTPS.
    SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None"
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

# --- Celery ---------------------------------------------------------------------
# Read by calendence/celery.py through the CELERY_ namespace.
# With its host named: a bare "filesystem://" makes kombu warn "No hostname was supplied" at each connection.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost//"
CELERY_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        # kombu looks for new messages once a second by default: a booking's first delivery
        # then waited 0.03 to 0.83 s under `make run`; at 0.1 s, 0.03 to 0.13 s.
        "polling_interval": 0.1,
    }
else:
    # A retry waits in the database (next_attempt_at), never only in the broker,
    # so the visibility timeout just has to outlast one attempt.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "calendence")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Webhook delivery -------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 3)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 60)
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", not PRODUCTION)
WEBHOOK_REQUIRE_HTTPS = PRODUCTION
# How often beat looks for deliveries that are due but were never handed to a
# worker (broker down at commit, lost message, dead worker).
WEBHOOK_SWEEP_INTERVAL_SECONDS = env_float("WEBHOOK_SWEEP_INTERVAL_SECONDS", 5)
WEBHOOK_USER_AGENT = f"Calendence-Webhooks/{VERSION}"
# Endpoint health: a webhook whose deliveries have all failed for this long, with at
# least this many failed deliveries, is disabled ("failing").
WEBHOOK_DISABLE_AFTER_HOURS = env_float("WEBHOOK_DISABLE_AFTER_HOURS", 120)
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 10)
# A 429 or 503 with Retry-After delays the next attempt by that much, at most this.
WEBHOOK_RETRY_AFTER_CAP_SECONDS = 3600
WEBHOOK_LOG_RETENTION_DAYS = env_int("WEBHOOK_LOG_RETENTION_DAYS", 30)
# A due delivery that no worker has claimed this long after it fell due is handed
# to Celery again by the sweeper; the claim makes a second copy harmless.
WEBHOOK_SWEEP_AFTER_SECONDS = env_float("WEBHOOK_SWEEP_AFTER_SECONDS", 30)
# A worker's claim on a delivery lasts one attempt's deadline plus this margin (room
# to write the log); a worker that dies leaves a claim that runs out after it.
WEBHOOK_CLAIM_MARGIN_SECONDS = env_float("WEBHOOK_CLAIM_MARGIN_SECONDS", 30)
# The engine (deliveries.engine): a worker claims, sends and logs this many deliveries at
# a time; each worker process sends through this many threads, and gives one endpoint at
# most WEBHOOK_ENDPOINT_CONCURRENCY of them, so a hanging endpoint cannot take them all.
WEBHOOK_BATCH_SIZE = env_int("WEBHOOK_BATCH_SIZE", 200)
WEBHOOK_SEND_THREADS = env_int("WEBHOOK_SEND_THREADS", 256)
WEBHOOK_ENDPOINT_CONCURRENCY = env_int("WEBHOOK_ENDPOINT_CONCURRENCY", 200)

CELERY_BEAT_SCHEDULE = {
    "sweep-due-deliveries": {
        "task": "deliveries.tasks.sweep_due_deliveries",
        "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS,
    },
    "purge-delivery-log": {
        "task": "deliveries.tasks.purge_delivery_log",
        "schedule": 24 * 3600,
    },
}
