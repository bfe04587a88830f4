"""One settings module, driven by the environment.

Development (the default) runs on an embedded SQLite database in WAL mode. Production
(`CAREWAY_ENV=production`) refuses to start with DEBUG on, the development secret key or a
wildcard host, and turns on every transport and cookie protection `check --deploy` asks for.
PostgreSQL is chosen with `DATABASE_URL=postgres://...`.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "careway-development-key-not-for-production"  # noqa: S105


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


CAREWAY_ENV = env_str("CAREWAY_ENV", "development")
if CAREWAY_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("CAREWAY_ENV must be 'development' or 'production'")
PRODUCTION = CAREWAY_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production")
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("Set SECRET_KEY to a random value of 50 or more characters")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("Set ALLOWED_HOSTS to the site's host names (no wildcard)")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # For its static files: the API docs page then serves Swagger UI from Careway, not a CDN.
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "careway.core",
    "careway.toolkit",
    "careway.patients",
    "careway.assessments",
    "careway.careplans",
    "careway.fhir",
    "careway.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "careway.core.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "careway.core.middleware.SessionSecurityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "careway.urls"
WSGI_APPLICATION = "careway.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "careway" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "careway.core.navigation.navigation",
                "careway.core.middleware.session_clock",
            ],
        },
    },
]

DATA_DIR = Path(env_str("CAREWAY_DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # Lets two test runs share one PostgreSQL server without dropping each other's database.
    if test_db_name := env_str("CAREWAY_TEST_DB_NAME", ""):
        DATABASES["default"]["TEST"] = {"NAME": test_db_name}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "careway.sqlite3"}
    }
# Each engine gets its own options: sqlite3.connect() refuses psycopg's keywords, so a SQLite
# DATABASE_URL gets the same options as the embedded default and never PostgreSQL's.
DATABASE_ENGINE = DATABASES["default"]["ENGINE"]
if DATABASE_ENGINE == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock
            # at the start of each transaction so audit appends never deadlock on upgrade.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
elif DATABASE_ENGINE == "django.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
):
    # PostgreSQL: server-side parameters, and statements that repeat prepared once per
    # connection: PostgreSQL then parses and plans the per-request statements (token, access
    # check, audit append) once instead of on every request, which nearly doubles the API read
    # rate (docs/benchmarks.md). Turn off behind a pooler that cannot keep prepared statements
    # (PgBouncer in transaction mode before 1.21, or without max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=2
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["careway.core.backends.CarewayBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "caseload"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 12 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "careway.core.views.errors.csrf_failure"
# Server-side limits; an agency may shorten the idle timeout (Organization.idle_timeout_minutes).
CAREWAY_IDLE_TIMEOUT_MINUTES = env_int("CAREWAY_IDLE_TIMEOUT_MINUTES", 15)
CAREWAY_ABSOLUTE_SESSION_HOURS = env_int("CAREWAY_ABSOLUTE_SESSION_HOURS", 12)
# Pages warn this long before the idle timeout and offer to stay signed in (one tap).
CAREWAY_IDLE_WARNING_SECONDS = env_int("CAREWAY_IDLE_WARNING_SECONDS", 60)

# Signed checkpoints of the audit chains, kept outside the database (docs/operations.md): the
# Ed25519 private key that signs them (keep it off the database server), its public half for
# verifying, and the append-only JSON-lines file they go to. Paths; empty means not set up.
CAREWAY_AUDIT_CHECKPOINT_KEY = env_str("CAREWAY_AUDIT_CHECKPOINT_KEY", "")
CAREWAY_AUDIT_CHECKPOINT_PUBLIC_KEY = env_str("CAREWAY_AUDIT_CHECKPOINT_PUBLIC_KEY", "")
CAREWAY_AUDIT_CHECKPOINTS = env_str("CAREWAY_AUDIT_CHECKPOINTS", "")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# The project-wide stylesheet lives in careway/static, which belongs to no app.
STATICFILES_DIRS = [BASE_DIR / "careway" / "static"]
# Outside production WhiteNoise serves straight from the source folders (no collectstatic step);
# production serves the hashed, compressed files `careway collectstatic` puts in STATIC_ROOT.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Background work: the database queue by default; Redis workers with CAREWAY_TASKS=redis.
CAREWAY_TASKS = env_str("CAREWAY_TASKS", "database")
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
if CAREWAY_TASKS == "redis":
    # django_tasks_rq's backend refuses to start (system check) unless django_rq is installed.
    INSTALLED_APPS += ["django_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    # RQ workers must build django_tasks_rq's Job to run a task; `careway rqworker` reads this.
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
elif CAREWAY_TASKS == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "careway@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint (PDFs) logs every step of every document at INFO; keep its warnings.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
