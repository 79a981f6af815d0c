"""Pressroom settings: one file, every value read from the environment.

Every variable is listed in .env.example and documented in README.md. Defaults give the embedded
set-up (SQLite in var/, in-process cache, database-backed task queue) that `make run` serves.
"""

import hashlib
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PRESSROOM_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


TESTING = "pytest" in sys.modules or env_bool("PRESSROOM_TESTING")
DEBUG = env_bool("DEBUG", default=False)


def _secret_key() -> str:
    """The secret from SECRET_KEY; in DEBUG or tests, one generated once into var/."""
    if key := env_str("SECRET_KEY"):
        return key
    if not (DEBUG or TESTING or env_bool("PRESSROOM_DEV_SECRET", default=False)):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`), "
            "or set DEBUG=true for development."
        )
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env_str("SITE_NAME", "Pressroom News")
SITE_DESCRIPTION = env_str(
    "SITE_DESCRIPTION", "Independent, reader-funded news from movements around the world."
)
SITE_LANGUAGE = env_str("SITE_LANGUAGE", "en")
ORGANIZATION_NAME = env_str("ORGANIZATION_NAME", SITE_NAME)
ORGANIZATION_ADDRESS = env_str("ORGANIZATION_ADDRESS", "")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [urlsplit(SITE_URL).hostname or "localhost", "localhost", "127.0.0.1"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "django_tasks_db",
    "crontask",
    "anymail",
    "django_prose_editor",
    "pressroom.front",
    "pressroom.publishing",
    "pressroom.newsletter",
    "pressroom.fundraising",
    "pressroom.importers",
    "pressroom.search",
    "pressroom.backups",
]

MIDDLEWARE = [
    # First, so a stored page carries every header below and a hit skips them all. It also
    # compresses (through GZipMiddleware for everything it does not share).
    "pressroom.lib.pagecache.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "pressroom.publishing.middleware.LegacyPathRedirectMiddleware",
]

ROOT_URLCONF = "pressroom.urls"
WSGI_APPLICATION = "pressroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pressroom.front.context_processors.site",
            ],
        },
    },
]

# Database: SQLite in var/ by default, anything dj-database-url understands via DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pressroom.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else None
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers and one writer work at once; IMMEDIATE avoids lock upgrades that
        # fail with "database is locked" when several processes write.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # A 64 MB memory map covers the hot indexes of a large archive; a bigger one only makes
        # every worker's resident size look larger (mapped pages count), not pages faster.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=67108864; PRAGMA cache_size=-16000;"
        ),
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _cache_from_url(url: str) -> dict:
    """locmem:// (default), file:///path, redis://host:port/db, dummy:// (no caching)."""
    parts = urlsplit(url)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    timeout = int(options.pop("timeout", 300))
    if parts.scheme == "locmem":
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": parts.netloc or "pressroom",
            "TIMEOUT": timeout,
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    if parts.scheme == "file":
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": parts.path,
            "TIMEOUT": timeout,
        }
    if parts.scheme in {"redis", "rediss"}:
        return {
            # RedisCache that turns an unreachable Redis into misses (pressroom/lib/cache.py).
            "BACKEND": "pressroom.lib.cache.ResilientRedisCache",
            "LOCATION": url.split("?")[0],
            "TIMEOUT": timeout,
        }
    if parts.scheme == "dummy":
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(
        f"CACHE_URL scheme {parts.scheme!r} is not supported (use locmem, file, redis or dummy)"
    )


CACHES = {"default": _cache_from_url(env_str("CACHE_URL", "locmem://"))}

# A restored backup stays isolated until `pressroom go-live`: its cache keys get their own prefix
# and the worker runs no task (pressroom/backups/isolation.py). The marker names the database, so
# a scratch copy that shares VAR_DIR with the live site isolates only itself.
_database = DATABASES["default"]
_database_identity = "|".join(
    str(_database.get(part) or "") for part in ("ENGINE", "HOST", "PORT", "NAME")
)
RESTORED_COPY_FILE = VAR_DIR / (
    "restored-copy-" + hashlib.sha256(_database_identity.encode()).hexdigest()[:16]
)
RESTORED_COPY = RESTORED_COPY_FILE.read_text().strip() if RESTORED_COPY_FILE.is_file() else ""
CACHES["default"]["KEY_PREFIX"] = env_str("CACHE_KEY_PREFIX") + (
    f"restored-{RESTORED_COPY}" if RESTORED_COPY else ""
)

# Page cache (pressroom/lib/pagecache.py): anonymous public pages, invalidated on every content
# change, and never older than PAGE_CACHE_SECONDS (campaign figures may be that stale). 0 = off.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 60)
# Parts of pages each process keeps until content changes (header, footer, teasers, the topic or
# author of an archive). A change that announces nothing (an SQL update by hand) goes unseen for
# at most this plus PAGE_CACHE_SECONDS. 0 = off.
FRAGMENT_CACHE_SECONDS = env_int("FRAGMENT_CACHE_SECONDS", 60)
# What browsers and shared caches (nginx, a CDN) are told: browsers revalidate (cheap 304s),
# proxies keep a page for a second, so publishing is visible within about two seconds.
PAGE_CACHE_BROWSER_SECONDS = env_int("PAGE_CACHE_BROWSER_SECONDS", 0)
PAGE_CACHE_PROXY_SECONDS = env_int("PAGE_CACHE_PROXY_SECONDS", 1)
PAGE_CACHE_STALE_SECONDS = env_int("PAGE_CACHE_STALE_SECONDS", 10)
# With a shared cache (Redis), how often each process re-reads the content generation.
PAGE_CACHE_GENERATION_POLL = env_float("PAGE_CACHE_GENERATION_POLL", 0.5)
# With the per-process locmem cache, the generation lives in this file, shared by all processes.
PAGE_CACHE_GENERATION_FILE = env_str("PAGE_CACHE_GENERATION_FILE") or str(
    VAR_DIR / "page-cache-generation"
)
PAGE_CACHE_BROTLI_QUALITY = env_int("PAGE_CACHE_BROTLI_QUALITY", 6)
# Pages each process also keeps unpickled in memory (the hottest ones; ~20-50 KB each).
PAGE_CACHE_MEMORY_ENTRIES = env_int("PAGE_CACHE_MEMORY_ENTRIES", 200)
PAGE_CACHE_EXCLUDE_PATHS = env_list(
    "PAGE_CACHE_EXCLUDE_PATHS",
    [
        "/admin/",
        "/digest/confirm/",
        "/digest/preferences/",
        "/digest/unsubscribe/",
        "/donate/",
        "/fundraising/",
        "/anymail/",
        "/webhooks/",
        "/inbox",
    ],
)

# Background work: Django's Tasks API on the database queue; `pressroom worker` runs it.
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": [],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en-us")
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0

LOGIN_URL = "admin:login"

# Security: production defaults that a reverse proxy terminating TLS can rely on.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SITE_URL.startswith("https://")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)

# Email: SMTP by default; EMAIL_BACKEND may name any django-anymail backend instead.
# Django 6.1 mailers: "default" for one-off mail (confirmations, receipts), "bulk" for the digest,
# which may go through another provider (set BULK_EMAIL_BACKEND) and reuses its connections.
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25),
    "username": env_str("EMAIL_HOST_USER"),
    "password": env_str("EMAIL_HOST_PASSWORD"),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "use_ssl": env_bool("EMAIL_USE_SSL", False),
    "timeout": env_int("EMAIL_TIMEOUT", 30),
}


def _mailer(backend: str) -> dict:
    is_smtp = backend == "django.core.mail.backends.smtp.EmailBackend"
    return {"BACKEND": backend, "OPTIONS": SMTP_OPTIONS if is_smtp else {}}


MAILERS = {
    "default": _mailer(EMAIL_BACKEND_PATH),
    "bulk": _mailer(env_str("BULK_EMAIL_BACKEND", EMAIL_BACKEND_PATH)),
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <news@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}
# DKIM signing of mail sent over SMTP (ESPs sign on their side); all three or none.
DKIM_PRIVATE_KEY_PATH = env_str("DKIM_PRIVATE_KEY_PATH")
DKIM_SELECTOR = env_str("DKIM_SELECTOR")
DKIM_DOMAIN = env_str("DKIM_DOMAIN")


# Newsletter (Daily Digest).
def _digest_send_at(value: str) -> tuple[int, int]:
    try:
        hour, minute = (int(part) for part in value.split(":"))
        if 0 <= hour < 24 and 0 <= minute < 60:
            return hour, minute
    except ValueError:
        pass
    raise ImproperlyConfigured(f"DIGEST_SEND_AT must be a time like 06:00, not {value!r}")


DIGEST_SEND_AT = _digest_send_at(env_str("DIGEST_SEND_AT", "06:00"))
DIGEST_TIMEZONE = env_str("DIGEST_TIMEZONE", "UTC")
DIGEST_MAX_ARTICLES = env_int("DIGEST_MAX_ARTICLES", 50)
DIGEST_CONFIRMATION_DAYS = env_int("DIGEST_CONFIRMATION_DAYS", 7)
DIGEST_SIGNUPS_PER_IP_PER_HOUR = env_int("DIGEST_SIGNUPS_PER_IP_PER_HOUR", 10)
DIGEST_BATCH_SIZE = env_int("DIGEST_BATCH_SIZE", 500)
DIGEST_SEND_RATE = env_float("DIGEST_SEND_RATE", 0)
DIGEST_SMTP_CONNECTIONS = env_int("DIGEST_SMTP_CONNECTIONS", 1)
DIGEST_CLAIM_LEASE = env_int("DIGEST_CLAIM_LEASE", 300)
DIGEST_RECOVERY_INTERVAL = env_int("DIGEST_RECOVERY_INTERVAL", 60)
DIGEST_MAX_ATTEMPTS = env_int("DIGEST_MAX_ATTEMPTS", 3)
DIGEST_UNSUBSCRIBE_MAILTO = env_str("DIGEST_UNSUBSCRIBE_MAILTO")
DIGEST_RETURN_PATH = env_str("DIGEST_RETURN_PATH")

# Backups (`pressroom backup`, docs/deploy.md): where archives go, how many stay, and a cron
# expression (e.g. "30 3 * * *") for the worker to take one; empty = no scheduled backups.
BACKUP_DIR = Path(env_str("BACKUP_DIR") or VAR_DIR / "backups")
BACKUP_KEEP = env_int("BACKUP_KEEP", 7)
if BACKUP_KEEP < 1:
    raise ImproperlyConfigured(f"BACKUP_KEEP must be 1 or more, not {BACKUP_KEEP}")
BACKUP_SCHEDULE = env_str("BACKUP_SCHEDULE")
if BACKUP_SCHEDULE:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(BACKUP_SCHEDULE)
    except ValueError:
        raise ImproperlyConfigured(
            f"BACKUP_SCHEDULE must be a cron expression like '30 3 * * *', not {BACKUP_SCHEDULE!r}"
        ) from None
# The environment file these settings come from (systemd's EnvironmentFile), saved in backups.
PRESSROOM_ENV_FILE = env_str("PRESSROOM_ENV_FILE")

# Publishing.
EXCERPT_WORDS = env_int("EXCERPT_WORDS", 60)
ARTICLES_PER_PAGE = env_int("ARTICLES_PER_PAGE", 20)
FEED_ITEMS = env_int("FEED_ITEMS", 30)
# Hosts whose <iframe> embeds survive HTML cleaning.
EMBED_HOSTS = env_list(
    "EMBED_HOSTS",
    [
        "www.youtube.com",
        "www.youtube-nocookie.com",
        "player.vimeo.com",
        "open.spotify.com",
        "w.soundcloud.com",
        "www.google.com",
        "archive.org",
        "peertube.tv",
        "www.openstreetmap.org",
    ],
)
MAX_BODY_BYTES = env_int("MAX_BODY_BYTES", 2 * 1024 * 1024)

# Fundraising. Without STRIPE_SECRET_KEY the donate page says online giving is not configured.
FUNDRAISING_PROVIDER = env_str("FUNDRAISING_PROVIDER", "stripe")
FUNDRAISING_CURRENCY = env_str("FUNDRAISING_CURRENCY", "USD").upper()
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
STRIPE_TIMEOUT = env_float("STRIPE_TIMEOUT", 20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"database_outage": {"()": "pressroom.lib.logfilters.DatabaseOutageOncePerMinute"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["database_outage"]},
    },
}
