"""Signoff's settings: one module, every deployment-specific value from the environment.

Without any environment the project runs as the laptop demo: SQLite, Celery over the
``filesystem://`` transport in ``var/``, e-mail written to files in ``var/sent-mail``.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SIGNOFF_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_from_env_or_file(name: str, filename: str, make=None) -> str:
    """``name`` from the environment; else a random value kept in ``var/<filename>`` (the demo).

    Production sets the variable (the same on every host); a laptop gets a key of its own that
    survives restarts and never appears in the repository or the database.
    """
    value = os.environ.get(name, "")
    if value:
        return value
    path = VAR_DIR / filename
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write((make or get_random_secret_key)())
    return path.read_text().strip()


# Safe by default: the debug page (settings, SQL, tracebacks) only when asked for.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_from_env_or_file("SECRET_KEY", "secret-key")
# The key of the audit chain's HMAC digests; never stored in the database (audit.services).
SIGNOFF_AUDIT_KEY = secret_from_env_or_file("SIGNOFF_AUDIT_KEY", "audit-key")
# The Ed25519 key that signs approvals (approvals.attestations): 64 hex digits (its 32-byte seed),
# never stored in the database. The public key is served at /attestations/public-key.pem.
SIGNOFF_ATTESTATION_KEY = secret_from_env_or_file(
    "SIGNOFF_ATTESTATION_KEY", "attestation-key", lambda: os.urandom(32).hex()
)
# Signed chain heads written by `manage.py audit_checkpoint`, outside the database.
SIGNOFF_AUDIT_CHECKPOINT_DIR = Path(os.environ.get("SIGNOFF_AUDIT_CHECKPOINT_DIR", VAR_DIR / "audit-checkpoints"))
SIGNOFF_AUDIT_CHECKPOINT_EMAILS = env_list("SIGNOFF_AUDIT_CHECKPOINT_EMAILS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Absolute links in e-mails point here; by default the address `make demo` serves (PORT).
SIGNOFF_BASE_URL = os.environ.get("SIGNOFF_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")
# How long a new API token lives unless its owner picks another lifetime.
SIGNOFF_TOKEN_DAYS = int(os.environ.get("SIGNOFF_TOKEN_DAYS", "90"))

# HTTPS in production: one switch, each part overridable (manage.py check --deploy passes with it on).
HTTPS = env_bool("SIGNOFF_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(31_536_000 if HTTPS else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if env_bool("SECURE_PROXY_SSL_HEADER", False):  # behind a proxy that terminates TLS
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No script, style or frame from anywhere but Signoff itself, and no inline script at all.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Largest artifact accepted on upload, in bytes.
SIGNOFF_MAX_ARTIFACT_BYTES = int(os.environ.get("SIGNOFF_MAX_ARTIFACT_BYTES", str(200 * 1024 * 1024)))
# The workflow used for models without one of their own (a YAML file).
SIGNOFF_DEFAULT_WORKFLOW = Path(
    os.environ.get("SIGNOFF_DEFAULT_WORKFLOW", BASE_DIR / "approvals" / "workflows" / "default.yaml")
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "jobs",
    "registry",
    "audit",
    "evidence",
    "approvals",
    "notifications",
    "webhooks",
    "mlflow_link",
    "accounts",
]
# The demo's seeding and runner: `make demo` and the tests set SIGNOFF_DEMO; production does not.
SIGNOFF_DEMO = os.environ.get("SIGNOFF_DEMO", "").lower() in {"1", "true", "yes"}
if SIGNOFF_DEMO:
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.identity.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "registry.middleware.RefuseUnsafeInputMiddleware",
    # Last, so that it sees the authenticated user and a failed login's outcome.
    "axes.middleware.AxesMiddleware",
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
                # The demo's pages say so while it is still being seeded.
                *(["demo.context_processors.seeding"] if SIGNOFF_DEMO else []),
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'signoff.sqlite3'}",
        # Persistent connections (checked before reuse): a new PostgreSQL connection per request
        # halves read throughput and plans every query against cold catalog caches.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share the file: wait for locks instead of failing,
    # and take the write lock at BEGIN so that transactions never deadlock on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif env_bool("SIGNOFF_DB_PREPARED_STATEMENTS", True):
    # PostgreSQL: parameters bound by the server, and a statement a connection has run twice is
    # prepared there (psycopg keeps its 100 most recent). PostgreSQL then plans it at most a few
    # more times: planning the engine's joins cost more than running them. Behind a pooler in
    # transaction mode (pgbouncer < 1.21), set SIGNOFF_DB_PREPARED_STATEMENTS=0.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username / address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row.
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded artifacts live here and are never served as pages: no URL maps to this folder;
# downloads go through the scoped artifact views as attachments.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Serve static files straight from the apps and static/ when collectstatic has not run (the demo).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # After `collectstatic` in production, hashed names that can be cached for ever.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# E-mail: SMTP when EMAIL_HOST is set, otherwise files in var/sent-mail for the demo.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 30
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "sent-mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Signoff <signoff@localhost>")

# Celery: Redis (or any broker URL) in production, a folder on disk for the demo.
# How long a reviewer's claim on a step ("mona is reviewing") lasts unless released or renewed.
SIGNOFF_CLAIM_HOURS = int(os.environ.get("SIGNOFF_CLAIM_HOURS", "24"))
# How long the decision links of an e-mail asking for a review stay valid.
SIGNOFF_EMAIL_ACTION_HOURS = int(os.environ.get("SIGNOFF_EMAIL_ACTION_HOURS", "72"))
# The daily digest (what waits for each person) goes out from this hour, in TIME_ZONE; 0–23.
SIGNOFF_DIGEST_HOUR = min(max(int(os.environ.get("SIGNOFF_DIGEST_HOUR", "8")), 0), 23)
# Webhooks go to public addresses only, unless this comma-separated list names the host.
SIGNOFF_WEBHOOK_ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("SIGNOFF_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()
]
# How often beat imports from and checks each MLflow connection (mlflow_link).
SIGNOFF_MLFLOW_POLL_SECONDS = int(os.environ.get("SIGNOFF_MLFLOW_POLL_SECONDS", "60"))
# Programs a workflow's `command` deployer may run (absolute paths; approvals.deployers).
SIGNOFF_DEPLOY_COMMANDS = env_list("SIGNOFF_DEPLOY_COMMANDS", "")
SIGNOFF_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("SIGNOFF_WEBHOOK_TIMEOUT_SECONDS", "10"))
# The longest a delegation (out of office) may last.
SIGNOFF_DELEGATION_MAX_DAYS = int(os.environ.get("SIGNOFF_DELEGATION_MAX_DAYS", "90"))
# How long the author of a comment may still edit it (the earlier text is kept).
SIGNOFF_COMMENT_EDIT_MINUTES = int(os.environ.get("SIGNOFF_COMMENT_EDIT_MINUTES", "15"))
# (The demo's queue is a folder; "localhost" only spares kombu's warning about a missing host.)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only after it ran, so a worker that dies mid-task does not lose it;
# every task is idempotent, so running it again is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is set; the
# jobs app instead keeps it as the web tier does (CONN_MAX_AGE, health-checked, closed on error).
CELERY_DB_REUSE_MAX = 10**9
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The sandbox in which checks open artifacts and datasets (evidence.sandbox): per check run.
SIGNOFF_SANDBOX_CPU_SECONDS = int(os.environ.get("SIGNOFF_SANDBOX_CPU_SECONDS", "60"))
SIGNOFF_SANDBOX_MEMORY_MB = int(os.environ.get("SIGNOFF_SANDBOX_MEMORY_MB", "2048"))
SIGNOFF_SANDBOX_WALL_SECONDS = int(os.environ.get("SIGNOFF_SANDBOX_WALL_SECONDS", "120"))
# Workers fork sandboxed checks from a process that has NumPy, pandas, scikit-learn and
# fairlearn imported (seconds saved per check); 0 starts a new interpreter for each.
SIGNOFF_SANDBOX_FORK_SERVER = env_bool("SIGNOFF_SANDBOX_FORK_SERVER", True)
# Evaluation datasets (evidence.datasets): largest file and most rows accepted.
SIGNOFF_MAX_DATASET_BYTES = int(os.environ.get("SIGNOFF_MAX_DATASET_BYTES", str(100 * 1024 * 1024)))
SIGNOFF_MAX_DATASET_ROWS = int(os.environ.get("SIGNOFF_MAX_DATASET_ROWS", "1000000"))
SIGNOFF_MAX_DATASET_COLUMNS = int(os.environ.get("SIGNOFF_MAX_DATASET_COLUMNS", "1000"))
# Uploads one person may have waiting to be read by the worker at once (more: HTTP 429).
SIGNOFF_MAX_DATASETS_BEING_READ = int(os.environ.get("SIGNOFF_MAX_DATASETS_BEING_READ", "2"))
# Time limits of every background job (seconds): the soft one fails the attempt, the hard one
# kills the worker process; a job's lease outlives both, then the sweeper hands it over.
SIGNOFF_JOB_SOFT_LIMIT = int(os.environ.get("SIGNOFF_JOB_SOFT_LIMIT", "300"))
SIGNOFF_JOB_HARD_LIMIT = int(os.environ.get("SIGNOFF_JOB_HARD_LIMIT", "330"))
SIGNOFF_JOB_HANDOVER_SECONDS = int(os.environ.get("SIGNOFF_JOB_HANDOVER_SECONDS", "20"))
# A running job renews its lease every third of it; a dead worker's jobs are free after this.
SIGNOFF_JOB_LEASE_SECONDS = int(os.environ.get("SIGNOFF_JOB_LEASE_SECONDS", "20"))
# Fair share: while another team's checks wait, one team runs at most this many checks at once
# (its further checks wait their turn); with nobody else waiting a team may use every worker.
SIGNOFF_CHECKS_PER_TEAM = int(os.environ.get("SIGNOFF_CHECKS_PER_TEAM", "1"))
# Celery beat: the sweeper hands over lost or abandoned jobs and concludes finished checks steps.
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {
        "task": "jobs.tasks.sweep_jobs",
        "schedule": float(os.environ.get("SIGNOFF_SWEEP_SECONDS", "10")),
    },
    # A signed chain head outside the database, so a deleted tail or a truncation is found.
    "audit-checkpoint": {
        "task": "audit.tasks.audit_checkpoint",
        "schedule": float(os.environ.get("SIGNOFF_AUDIT_CHECKPOINT_SECONDS", "3600")),
    },
    "sweep-kept-uploads": {"task": "registry.tasks.sweep_kept_uploads", "schedule": 900.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Login throttling (django-axes): five wrong passwords for one username from one address lock
# that pair out for a while; lockouts are audited (accounts.signals).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False
# The reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks);
# none by default: the lockout and the API throttles key on the connection's own address.
SIGNOFF_TRUSTED_PROXIES = [entry for entry in os.environ.get("SIGNOFF_TRUSTED_PROXIES", "").split(",") if entry]
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("CACHE_URL", "").startswith("redis"):
    # Shared by every web process, so API throttles count across them.
    CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": os.environ["CACHE_URL"]}}
    # Sessions are read from the shared cache and written through to the database: no session
    # query per request. Never with the per-process local-memory cache, where a logout in one
    # web process would leave the session alive in the others.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.client_address.AnonThrottle",
        "accounts.client_address.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("SIGNOFF_API_RATE_ANON", "60/min"),
        "user": os.environ.get("SIGNOFF_API_RATE_USER", "1200/min"),
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "accounts.scopes.TokenScope"],
    "DEFAULT_PARSER_CLASSES": [
        "registry.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Signoff API",
    "DESCRIPTION": "Register model versions, submit them for approval and record decisions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "approvals.models.PromotionRequest.Status",
        "StepStatusEnum": "approvals.models.StepState.Status",
        "CheckRunStatusEnum": "approvals.models.CheckRun.Status",
        "VersionStageEnum": "registry.models.ModelVersion.Stage",
        "VerdictEnum": "approvals.models.Decision.Verdict",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise outside the worker (eager runs while seeding the demo).
        "celery.app.trace": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
