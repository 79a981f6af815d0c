"""Pressroom settings: one file, every value read from the environment.

Every variable is listed in .env.example and documented in README.md. Defaults give the embedded
set-up (SQLite in var/, in-process cache, database-backed task queue) that `make run` serves.
"""

import base64
import hashlib
import importlib.util
import ipaddress
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.functional import lazy

from pressroom.publishing.embeds import DEFAULT_PLAYERS

BASE_DIR = Path(__file__).resolve().parent.parent

# Integers and floats from the environment are bounded: no setting here means anything negative,
# and none needs more than this (seconds in ten years, bytes in 2 GiB, counts).
LARGEST_NUMBER = 2**31 - 1


def env_value(name: str) -> str | None:
    """The variable's value, or None when it is unset, empty or only blanks: an env file line
    `NAME=` means "use the default" everywhere, never "the empty string"."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_str(name: str, default: str = "") -> str:
    value = env_value(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env_value(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, minimum: int = 0, maximum: int = LARGEST_NUMBER) -> int:
    value = env_value(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    if not minimum <= number <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value!r}")
    return number


def env_float(
    name: str, default: float, minimum: float = 0, maximum: float = LARGEST_NUMBER
) -> float:
    value = env_value(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if not minimum <= number <= maximum:  # also refuses nan
        raise ImproperlyConfigured(
            f"{name} must be between {minimum:g} and {maximum:g}, not {value!r}"
        )
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_value(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_path(name: str, default: Path) -> Path:
    """An absolute directory path; a relative one would depend on where a command is started."""
    value = env_value(name)
    if value is None:
        return default
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise ImproperlyConfigured(f"{name} must be an absolute path, not {value!r}")
    return path


def refuse_code_directory(name: str, directory: Path) -> None:
    """Static, media and var directories hold what the site writes and (static, media) serves:
    never the checkout, the virtualenv, the code, or any directory that contains one of them,
    where a web server would hand out `.git/config`, settings.py or the env file."""
    resolved = directory.resolve()
    code_directories = [BASE_DIR, Path(sys.prefix).resolve(), Path(__file__).resolve().parent]
    for code in code_directories:
        if resolved == code or resolved in code.parents:
            raise ImproperlyConfigured(
                f"{name} must not be {resolved}, which is or contains the code ({code}); "
                f"use a directory of its own, e.g. {BASE_DIR / 'var'}"
            )
    for code in [*code_directories[1:], BASE_DIR / ".git"]:
        if code in resolved.parents:
            raise ImproperlyConfigured(
                f"{name} must not be inside {code}; use a directory of its own, "
                f"e.g. {BASE_DIR / 'var'}"
            )


VAR_DIR = env_path("PRESSROOM_VAR_DIR", BASE_DIR / "var")
refuse_code_directory("PRESSROOM_VAR_DIR", VAR_DIR)


TESTING = "pytest" in sys.modules or env_bool("PRESSROOM_TESTING")
DEBUG = env_bool("DEBUG", default=False)


# mypy's Django plugin imports these settings to learn the models: `mypy pressroom` must work
# with no environment, so it gets a throwaway secret instead of a refusal or a file in var/.
TYPE_CHECKING_RUN = "mypy" in sys.modules


PLACEHOLDER_SECRET_WORDS = ("change", "example", "placeholder", "insecure", "your-secret")


def is_placeholder_secret(key: str) -> bool:
    """A key copied from an example or typed by hand, which start-up refuses in production."""
    lowered = key.lower()
    return (
        len(key) < 32
        or len(set(key)) < 5
        or any(word in lowered for word in PLACEHOLDER_SECRET_WORDS)
    )


def _secret_key() -> str:
    """The secret from SECRET_KEY; in DEBUG or tests, one generated once into var/."""
    if key := env_str("SECRET_KEY"):
        if not (DEBUG or TESTING) and is_placeholder_secret(key):
            raise ImproperlyConfigured(
                "SECRET_KEY looks like a placeholder or is too short (at least 32 characters, "
                "not 'change-me'): set it to a long random string "
                "(`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
            )
        return key
    if TYPE_CHECKING_RUN:
        return secrets.token_urlsafe(50)  # random, never stored: nothing can be signed with it
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
    # django.contrib.admin, its site naming the outlet (site/admin_site.py).
    "pressroom.site.admin_site.NewsroomAdminConfig",
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
    "pressroom.accounts",
    "pressroom.workers",
    "pressroom.media",
    "pressroom.site",
    "pressroom.publishing",
    "pressroom.newsletter",
    "pressroom.fundraising",
    "pressroom.importers",
    "pressroom.partners",
    "pressroom.search",
    "pressroom.operations",
    "pressroom.backups",
    "pressroom.portability",
    "pressroom.federation",
    "pressroom.insight",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics: before the page cache, sessions and host validation.
    "pressroom.operations.middleware.OperationsMiddleware",
    # Right after it, so a stored page carries every header below and a hit skips them all. It also
    # compresses (through GZipMiddleware for everything it does not share).
    "pressroom.lib.pagecache.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Below the page cache, so a stored page keeps its policy (public pages use no nonce).
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "pressroom.lib.staticfiles.CollectedStaticFilesMiddleware",
    # Old (WordPress) addresses answer here, before sessions and CSRF: a redirect needs neither.
    "pressroom.publishing.middleware.LegacyPathRedirectMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's CommonMiddleware, adding a slash to a page's address only when a page is there.
    "pressroom.publishing.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pressroom.urls"
WSGI_APPLICATION = "pressroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates: base.html, which every app's pages extend. It sits above
        # the apps (front's tags, fundraising's banner, newsletter's signup form), so no app's
        # template extends another app's (docs/architecture.md).
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "pressroom.front.context_processors.site",
            ],
        },
    },
]

# Database: SQLite in var/ by default, anything dj-database-url understands via DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pressroom.sqlite3'}")
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)
        )
    }
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
# The engine DATABASE_URL names: what identifies the database (RESTORED_COPY_FILE below).
_engine_of_url = DATABASES["default"]["ENGINE"]
if _engine_of_url == "django.db.backends.sqlite3":
    # Django's backend, each statement's placeholders converted once (pressroom/lib/sqlite3).
    DATABASES["default"]["ENGINE"] = "pressroom.lib.sqlite3"
    # The in-memory test database Django makes for SQLite, named so that pytest-django, which
    # knows SQLite by Django's engine name, gives each of its workers no file name either.
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
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
# No JIT: PostgreSQL compiles a statement whose estimated cost passes `jit_above_cost`, and this
# site's statements never repay it. A fan-out chunk (5,000 of a million readers) took 166 ms,
# 19 of them reading rows (docs/newsletter.md). Behind PgBouncer, which refuses the start-up
# option, set DATABASE_JIT_OFF=false and `ALTER ROLE … SET jit = off` (docs/scaling.md).
_options = DATABASES["default"].setdefault("OPTIONS", {})
if (
    _engine_of_url in ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")
    and env_bool("DATABASE_JIT_OFF", True)
    and "jit" not in _options.get("options", "")  # the URL's own choice stands
):
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _cache_from_url(url: str) -> dict:
    """locmem:// (default), file:///path, redis://host:port/db, dummy:// (no caching)."""
    parts = urlsplit(url)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        timeout = int(options.pop("timeout", 300))
    except ValueError:
        raise ImproperlyConfigured(f"CACHE_URL's timeout must be a whole number: {url!r}") from None
    if not 0 <= timeout <= 366 * 86400:
        raise ImproperlyConfigured(f"CACHE_URL's timeout must be 0 to 31622400 seconds: {url!r}")
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
# Named by the engine of the URL, not the backend module that runs it, so that a marker keeps
# its name when the module changes (an upgrade, a rollback).
_database = DATABASES["default"]
_database_identity = "|".join(
    [_engine_of_url, *(str(_database.get(part) or "") for part in ("HOST", "PORT", "NAME"))]
)
RESTORED_COPY_FILE = VAR_DIR / (
    "restored-copy-" + hashlib.sha256(_database_identity.encode()).hexdigest()[:16]
)
RESTORED_COPY = RESTORED_COPY_FILE.read_text().strip() if RESTORED_COPY_FILE.is_file() else ""
CACHES["default"]["KEY_PREFIX"] = env_str("CACHE_KEY_PREFIX") + (
    f"restored-{RESTORED_COPY}" if RESTORED_COPY else ""
)

# Page cache (pressroom/lib/pagecache/, docs/scaling.md): everything a public page shows is kept
# under one content generation, which moves on at every announced change, at every scheduled
# moment, and at least every PAGE_CACHE_SECONDS. 0 = nothing kept.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 60)

# Page views (docs/analytics.md): "server" counts at the WSGI front (pages the page cache answers
# included); "beacon" when nginx's micro-cache answers pages without Python (each page asks for
# /_count); "off" counts none. Daily counts older than INSIGHT_RAW_RETENTION_DAYS (13 months)
# become monthly totals per page.
INSIGHT_COUNTING = env_choice("INSIGHT_COUNTING", "server", ("server", "beacon", "off"))
INSIGHT_RAW_RETENTION_DAYS = env_int("INSIGHT_RAW_RETENTION_DAYS", 396, minimum=31, maximum=3660)
# Path prefixes never stored, besides anything personal (a session, a cookie, a CSRF token,
# Cache-Control: private) and any path containing /webhooks/.
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
    ],
)

# Background work: Django's Tasks API on the database queue; `pressroom worker` runs it.
# Each worker process refreshes a heartbeat row this often; one silent for three intervals plus
# a second (10 s) is presumed dead and the digest batches it held are taken over.
WORKER_HEARTBEAT_INTERVAL = env_float("WORKER_HEARTBEAT_INTERVAL", 3, minimum=0.1, maximum=60)
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
# One Django has a translation for: any other stops every command with an OSError traceback.
_languages = {code for code, _name in global_settings.LANGUAGES}
if not {LANGUAGE_CODE.lower(), LANGUAGE_CODE.lower().split("-")[0]} & _languages:
    raise ImproperlyConfigured(
        f"LANGUAGE_CODE must be a language code Django knows, like en-us or pt-br, not {LANGUAGE_CODE!r}"
    )
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
refuse_code_directory("STATIC_ROOT", STATIC_ROOT)
STORAGES: dict[str, dict[str, Any]] = {
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
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SITE_URL.startswith("https://")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
# Served over TLS end to end: behind the TLS proxy with an https SITE_URL. Then HSTS and the
# redirect to https are on unless set otherwise (see Operations below).
SERVED_OVER_TLS = BEHIND_TLS_PROXY and SITE_URL.startswith("https://")
# Abuse limits (pressroom/lib/ratelimit.py), counted in the database or the shared Redis cache.
# Behind a reverse proxy every visitor arrives from the proxy's address: name the header it
# sets (X-Forwarded-For or X-Real-IP, see deploy/nginx) and, for X-Forwarded-For, how many
# proxies append to it. Empty: REMOTE_ADDR. Never set it without a proxy that overwrites it.
TRUSTED_PROXY_HEADER = env_str("TRUSTED_PROXY_HEADER")
if TRUSTED_PROXY_HEADER and not TRUSTED_PROXY_HEADER.replace("-", "").isalnum():
    raise ImproperlyConfigured(
        f"TRUSTED_PROXY_HEADER must be a header name like X-Forwarded-For, not {TRUSTED_PROXY_HEADER!r}"
    )
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1, minimum=1, maximum=10)


def _networks(name: str, default: list[str]) -> list[str]:
    """Addresses and CIDR ranges (e.g. 127.0.0.1,10.0.0.0/8,::1), each checked now."""
    networks = []
    for entry in env_list(name, default):
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be addresses or CIDR ranges separated by commas, not {entry!r}"
            ) from None
    return networks


# The header above is believed only from these addresses (the proxy's): from anywhere else the
# visitor could write it themselves.
TRUSTED_PROXY_ADDRESSES = _networks("TRUSTED_PROXY_ADDRESSES", ["127.0.0.1", "::1"])
LOGIN_ATTEMPTS_PER_ACCOUNT = env_int("LOGIN_ATTEMPTS_PER_ACCOUNT", 5, maximum=10_000)
LOGIN_ATTEMPTS_PER_ADDRESS = env_int("LOGIN_ATTEMPTS_PER_ADDRESS", 20, maximum=10_000)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1, maximum=86_400)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)

# Email: SMTP by default; EMAIL_BACKEND may name any django-anymail backend instead.
# Django 6.1 mailers: "default" for one-off mail (confirmations, receipts), "bulk" for the digest,
# which may go through another provider (set BULK_EMAIL_BACKEND) and reuses its connections.
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25, minimum=1, maximum=65535),
    "username": env_str("EMAIL_HOST_USER"),
    "password": env_str("EMAIL_HOST_PASSWORD"),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "use_ssl": env_bool("EMAIL_USE_SSL", False),
    "timeout": env_int("EMAIL_TIMEOUT", 30, minimum=1, maximum=3600),
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
    if key.startswith("ANYMAIL_") and value.strip()
}


def _email_providers(*backends: str) -> list[str]:
    """The django-anymail ESPs among the email backends: 'anymail.backends.postmark.X' -> postmark."""
    names = []
    for backend in backends:
        parts = backend.split(".")
        # A backend that does not exist is reported by the operations app's check instead.
        if (
            len(parts) == 4
            and parts[:2] == ["anymail", "backends"]
            and parts[2] != "test"
            and importlib.util.find_spec(f"anymail.backends.{parts[2]}") is not None
        ):
            names.append(parts[2])
    return sorted(set(names))


# Providers whose webhooks anymail can verify by a signature instead of basic auth, by the
# ANYMAIL_* setting holding the key.
EMAIL_WEBHOOK_SIGNATURE_SETTINGS = {
    "mailgun": "MAILGUN_WEBHOOK_SIGNING_KEY",
    "mailersend": "MAILERSEND_SIGNING_SECRET",
    "mailtrap": "MAILTRAP_TRACKING_SECRET",
    "mandrill": "MANDRILL_WEBHOOK_KEY",
    "postal": "POSTAL_WEBHOOK_KEY",
    "resend": "RESEND_SIGNING_SECRET",
}
# Only the configured providers' tracking webhooks are mounted (/anymail/<esp>/tracking/); each
# marks subscribers bounced or complained for good, so none may run unauthenticated.
EMAIL_PROVIDER_WEBHOOKS = _email_providers(
    MAILERS["default"]["BACKEND"], MAILERS["bulk"]["BACKEND"]
)
for _provider in EMAIL_PROVIDER_WEBHOOKS:
    if not ANYMAIL.get("WEBHOOK_SECRET") and not ANYMAIL.get(
        EMAIL_WEBHOOK_SIGNATURE_SETTINGS.get(_provider, "WEBHOOK_SECRET")
    ):
        _signature = EMAIL_WEBHOOK_SIGNATURE_SETTINGS.get(_provider)
        raise ImproperlyConfigured(
            f"the {_provider} bounce/complaint webhook needs credentials: set "
            "ANYMAIL_WEBHOOK_SECRET=user:long-random-password (basic auth)"
            + (f" or ANYMAIL_{_signature}" if _signature else "")
        )
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
DIGEST_MAX_ARTICLES = env_int("DIGEST_MAX_ARTICLES", 50, minimum=1)
DIGEST_CONFIRMATION_DAYS = env_int("DIGEST_CONFIRMATION_DAYS", 7, minimum=1, maximum=3650)
DIGEST_SIGNUPS_PER_IP_PER_HOUR = env_int("DIGEST_SIGNUPS_PER_IP_PER_HOUR", 10)
# A worker holds a batch's rows, and a fan-out chunk of ten batches holds signups back while
# it is written (docs/newsletter.md): bounded so that neither can grow without limit.
DIGEST_BATCH_SIZE = env_int("DIGEST_BATCH_SIZE", 500, minimum=1, maximum=10_000)
DIGEST_SEND_RATE = env_float("DIGEST_SEND_RATE", 0)
DIGEST_SMTP_CONNECTIONS = env_int("DIGEST_SMTP_CONNECTIONS", 1, minimum=1, maximum=100)
DIGEST_RECOVERY_INTERVAL = env_int("DIGEST_RECOVERY_INTERVAL", 60, minimum=1, maximum=86_400)
DIGEST_MAX_ATTEMPTS = env_int("DIGEST_MAX_ATTEMPTS", 3, minimum=1, maximum=100)
# A thumbnail beside each article of the digest email (its lead image's 4:3 crop, as JPEG/PNG).
DIGEST_THUMBNAILS = env_bool("DIGEST_THUMBNAILS", True)
DIGEST_UNSUBSCRIBE_MAILTO = env_str("DIGEST_UNSUBSCRIBE_MAILTO")
DIGEST_RETURN_PATH = env_str("DIGEST_RETURN_PATH")
# When set (HH:MM, after DIGEST_SEND_AT, same time zone), a day's digest waits for the editor's
# note until then; it goes at that time without one. Empty: the digest never waits.
_wait_for_note = env_str("DIGEST_WAIT_FOR_NOTE_UNTIL")
DIGEST_WAIT_FOR_NOTE_UNTIL = _digest_send_at(_wait_for_note) if _wait_for_note else None
if DIGEST_WAIT_FOR_NOTE_UNTIL is not None and DIGEST_WAIT_FOR_NOTE_UNTIL <= DIGEST_SEND_AT:
    raise ImproperlyConfigured("DIGEST_WAIT_FOR_NOTE_UNTIL must be later than DIGEST_SEND_AT.")

# Backups (`pressroom backup`, docs/deploy.md): where archives go, how many stay, and a cron
# expression (e.g. "30 3 * * *") for the worker to take one; empty = no scheduled backups.
BACKUP_DIR = env_path("BACKUP_DIR", VAR_DIR / "backups")
refuse_code_directory("BACKUP_DIR", BACKUP_DIR)
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
EXCERPT_WORDS = env_int("EXCERPT_WORDS", 60, minimum=1)
ARTICLES_PER_PAGE = env_int("ARTICLES_PER_PAGE", 20, minimum=1, maximum=1000)
FEED_ITEMS = env_int("FEED_ITEMS", 30, minimum=1, maximum=1000)
# Embeds (<iframe>) that survive HTML cleaning: each entry is a host and the path its players
# live under ("www.youtube.com/embed/"): a trailing "/" allows everything below it, "*" stands
# for one path segment. A bare host allows any path of it (not advised: most hosts also serve
# open redirects or whole sites).
EMBED_ENTRIES = env_list("EMBED_HOSTS", DEFAULT_PLAYERS)  # the providers' players (embeds.py)
EMBED_PATHS: dict[str, list[str]] = {}
for _entry in EMBED_ENTRIES:
    _host, _slash, _path = _entry.partition("/")
    if not _host or not all(part.isalnum() for part in _host.replace("-", ".").split(".")):
        raise ImproperlyConfigured(
            f"EMBED_HOSTS entries must be a host name with an optional path, not {_entry!r}"
        )
    EMBED_PATHS.setdefault(_host.lower(), []).append(_slash + _path)
EMBED_HOSTS = sorted(EMBED_PATHS)
MAX_BODY_BYTES = env_int("MAX_BODY_BYTES", 2 * 1024 * 1024)
# How long a signed preview link (for someone without an account) opens its draft: a week.
PREVIEW_LINK_SECONDS = env_int("PREVIEW_LINK_SECONDS", 7 * 86_400, minimum=60, maximum=90 * 86_400)


def _static_url(path: str) -> str:
    from django.templatetags.static import static  # not importable before settings exist

    return static(path)


# The body editor's own nodes and marks (publishing/static/publishing/editor-blocks.js, its
# hashed name resolved when a page is drawn). What is stored is decided by the HTML cleaner
# (publishing/html.py), so they add nothing to sanitize.
DJANGO_PROSE_EDITOR_EXTENSIONS = [
    {
        "js": [lazy(_static_url, str)("publishing/editor-blocks.js")],
        "extensions": dict.fromkeys(
            [
                "PressroomAttributes", "BElement", "IElement", "Deleted", "Inserted", "Marked",
                "Small", "Abbreviation", "Citation", "InlineQuote", "Keyboard", "Span", "Time",
                "Division", "Address", "DescriptionList", "DescriptionTerm", "DescriptionDetails",
                "Details", "DetailsSummary", "MediaSource", "MediaTrack", "Picture", "Video",
                "Audio", "Embed", "LibraryBlocks", "PullQuote",
            ],
            lambda config, shared_config: None,
        ),
    }
]  # fmt: skip

# The campaign banner's script runs inline, as the banner is parsed: a reader who hid the appeal
# never sees it flash, and no script file holds up the first paint. The policy allows that one
# script by the hash of its text (the same on every page, so cached pages stay valid).
CAMPAIGN_BANNER_SCRIPT = (BASE_DIR / "pressroom/fundraising/banner.js").read_text()
_BANNER_SCRIPT_HASH = base64.b64encode(hashlib.sha256(CAMPAIGN_BANNER_SCRIPT.encode()).digest())

# Content-Security-Policy on every response (Django's CSP middleware). Public pages have no other
# inline script (external, hashed static files), so their policy needs no nonce and a cached page
# stays valid for everyone; the admin gets a per-request nonce for its few inline scripts.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE, f"'sha256-{_BANNER_SCRIPT_HASH.decode()}'"],
    # Inline style attributes: the admin and the body editor set them; article bodies cannot
    # carry any (the cleaner drops style attributes).
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    # Article images and media may live anywhere (imports keep their original addresses).
    "img-src": [CSP.SELF, "https:", "http:", "data:"],
    "media-src": [CSP.SELF, "https:", "http:"],
    "frame-src": [f"https://{host}" for host in EMBED_HOSTS],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    # The donate form answers with a redirect to the processor's hosted checkout.
    "form-action": [CSP.SELF, "https:"],
}

# Fundraising. Without STRIPE_SECRET_KEY the donate page says online giving is not configured.
FUNDRAISING_PROVIDER = env_str("FUNDRAISING_PROVIDER", "stripe")
# The payment processor plug-ins (dotted paths to their classes); packages may add more through
# the entry point group `pressroom.fundraising_processors`. A wrong one stops start-up (check).
FUNDRAISING_PROCESSORS = env_list(
    "FUNDRAISING_PROCESSORS",
    [
        "pressroom.fundraising.providers.stripe.StripeProvider",
        "pressroom.fundraising.providers.paypal.PayPalProvider",
    ],
)
FUNDRAISING_CURRENCY = env_str("FUNDRAISING_CURRENCY", "USD").upper()
# Who hears of failed monthly payments (comma-separated addresses); empty: the ADMINS.
FUNDRAISING_STAFF_EMAILS = env_list("FUNDRAISING_STAFF_EMAILS", [])
# After this many failed calls to the processor in a row the donate page stops offering a
# checkout for five minutes (then tries again) and staff are emailed once.
FUNDRAISING_PROCESSOR_FAILURES = env_int(
    "FUNDRAISING_PROCESSOR_FAILURES", 3, minimum=1, maximum=1000
)
# "Cover the fees": what the donor may add so the outlet receives the whole gift. The gift is
# grossed up so that, after the processor takes PERCENT of the total plus FIXED_CENTS (minor
# units of the gift's currency), the outlet keeps what the donor chose. 0 and 0 hide the option.
FUNDRAISING_FEE_PERCENT = env_float("FUNDRAISING_FEE_PERCENT", 2.9, maximum=20)
FUNDRAISING_FEE_FIXED_CENTS = env_int("FUNDRAISING_FEE_FIXED_CENTS", 30, maximum=10_000)
# The largest monthly or annual amount a donor may set in the portal (in the gift's currency).
FUNDRAISING_RECURRING_MAXIMUM = env_int(
    "FUNDRAISING_RECURRING_MAXIMUM", 10_000, minimum=1, maximum=10**8
)
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
# The secret key travels to it: https, or plain http only to this machine (a test double).
_stripe_base = urlsplit(STRIPE_API_BASE)
if (
    not (
        _stripe_base.scheme == "https"
        or (
            _stripe_base.scheme == "http"
            and _stripe_base.hostname in {"127.0.0.1", "localhost", "::1"}
        )
    )
    or not _stripe_base.hostname
):
    raise ImproperlyConfigured(
        f"STRIPE_API_BASE must be an https address (http only to 127.0.0.1): {STRIPE_API_BASE!r}"
    )
STRIPE_TIMEOUT = env_float("STRIPE_TIMEOUT", 20)
# PayPal (Orders v2, Subscriptions v1): REST app credentials and the id of the webhook that
# points at /fundraising/paypal/webhook/ (events are verified by PayPal's verification API).
PAYPAL_CLIENT_ID = env_str("PAYPAL_CLIENT_ID")
PAYPAL_CLIENT_SECRET = env_str("PAYPAL_CLIENT_SECRET")
PAYPAL_WEBHOOK_ID = env_str("PAYPAL_WEBHOOK_ID")[:50]
PAYPAL_API_BASE = env_str("PAYPAL_API_BASE", "https://api-m.paypal.com").rstrip("/")
_paypal_base = urlsplit(PAYPAL_API_BASE)
if not _paypal_base.hostname or not (
    _paypal_base.scheme == "https"
    or (
        _paypal_base.scheme == "http" and _paypal_base.hostname in {"127.0.0.1", "localhost", "::1"}
    )
):
    raise ImproperlyConfigured(
        f"PAYPAL_API_BASE must be an https address (http only to 127.0.0.1): {PAYPAL_API_BASE!r}"
    )
PAYPAL_TIMEOUT = env_float("PAYPAL_TIMEOUT", 20)
# Each donate POST opens a Checkout Session at the processor: at most this many per address.
DONATE_CHECKOUTS_PER_IP_PER_HOUR = env_int("DONATE_CHECKOUTS_PER_IP_PER_HOUR", 20, maximum=100_000)

# Web server (`pressroom serve`): the defaults of its options.
WEB_HOST = env_str("HOST", "127.0.0.1")
WEB_PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
WEB_WORKERS = env_int("WEB_WORKERS", 0, maximum=256)  # 0: one worker process per CPU core
# Threads per worker process. Several, so that a request waiting on something slow (the payment
# processor: at most half of them) leaves the others to serve pages; each thread may hold a
# database connection (WEB_WORKERS x WEB_THREADS per server, see docs/scaling.md).
WEB_THREADS = env_int("WEB_THREADS", 8, minimum=1, maximum=256)

# Outbound HTTP (pressroom/lib/outbound.py): every request the site makes to other servers.
OUTBOUND_CONNECT_TIMEOUT = env_float("OUTBOUND_CONNECT_TIMEOUT", 5, minimum=0.1, maximum=300)
OUTBOUND_READ_TIMEOUT = env_float("OUTBOUND_READ_TIMEOUT", 20, minimum=0.1, maximum=600)
OUTBOUND_TOTAL_TIMEOUT = env_float("OUTBOUND_TOTAL_TIMEOUT", 120, minimum=1, maximum=3600)
OUTBOUND_MAX_BYTES = env_int("OUTBOUND_MAX_BYTES", 100 * 1024 * 1024, minimum=1024)
OUTBOUND_MAX_REDIRECTS = env_int("OUTBOUND_MAX_REDIRECTS", 5, maximum=20)
OUTBOUND_RETRIES = env_int("OUTBOUND_RETRIES", 2, maximum=10)
OUTBOUND_RETRY_BACKOFF = env_float("OUTBOUND_RETRY_BACKOFF", 0.5, maximum=60)
OUTBOUND_PARALLEL_DOWNLOADS = env_int("OUTBOUND_PARALLEL_DOWNLOADS", 4, minimum=1, maximum=32)
# Off in production: requests to loopback, private and link-local addresses are refused.
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env_bool("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)
OUTBOUND_USER_AGENT = env_str("OUTBOUND_USER_AGENT")

# Partners (docs/partners.md): their feeds' largest size and items read per fetch, and the
# licence under which other outlets may republish our own articles (empty: no "Republish this
# article" panel, and /republish/ says we do not license our work).
PARTNER_FEED_MAX_BYTES = env_int(
    "PARTNER_FEED_MAX_BYTES", 10 * 1024 * 1024, minimum=1024, maximum=100 * 1024 * 1024
)
PARTNER_FEED_MAX_ITEMS = env_int("PARTNER_FEED_MAX_ITEMS", 100, minimum=1, maximum=1000)
REPUBLISH_LICENCE = env_str("REPUBLISH_LICENCE")[:200]

# Fediverse (docs/independence.md): the site's handle is @FEDERATION_USERNAME@<host of SITE_URL>;
# servers whose activities are refused and who get no deliveries (subdomains too); the largest
# inbox body; how old a signature may be; how long a remote key is kept; deliveries retried
# with exponential backoff from FEDERATION_RETRY_SECONDS for FEDERATION_RETRY_HOURS, then the
# instance is marked dead.
FEDERATION_USERNAME = env_str("FEDERATION_USERNAME", "news")
FEDERATION_BLOCKED_DOMAINS = [
    domain.strip().lower().lstrip("*.") for domain in env_list("FEDERATION_BLOCKED_DOMAINS", [])
]
FEDERATION_MAX_BODY_BYTES = env_int(
    "FEDERATION_MAX_BODY_BYTES", 256 * 1024, minimum=1024, maximum=10 * 1024 * 1024
)
FEDERATION_SIGNATURE_MAX_AGE = env_int(
    "FEDERATION_SIGNATURE_MAX_AGE", 300, minimum=30, maximum=3600
)
FEDERATION_KEY_CACHE_SECONDS = env_int(
    "FEDERATION_KEY_CACHE_SECONDS", 24 * 3600, minimum=0, maximum=30 * 24 * 3600
)
FEDERATION_DELIVERY_TIMEOUT = env_float("FEDERATION_DELIVERY_TIMEOUT", 20, minimum=1, maximum=300)
FEDERATION_RETRY_SECONDS = env_float("FEDERATION_RETRY_SECONDS", 60, minimum=0.01, maximum=3600)
FEDERATION_RETRY_HOURS = env_float("FEDERATION_RETRY_HOURS", 48, minimum=0.001, maximum=24 * 30)
REPUBLISH_LICENCE_URL = env_str("REPUBLISH_LICENCE_URL")[:500]

# Media library (docs/media.md).
MEDIA_ROOT = str(env_path("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
if not MEDIA_URL.endswith("/"):
    MEDIA_URL += "/"
# filesystem (MEDIA_ROOT) or s3 (any S3-compatible object store, through django-storages).
MEDIA_STORAGE = env_choice("MEDIA_STORAGE", "filesystem", ("filesystem", "s3"))
# `make run` / `pressroom serve` answers MEDIA_URL itself (immutable cache headers); turn off
# when nginx or the object store serves it.
MEDIA_SERVE = env_bool("MEDIA_SERVE", MEDIA_STORAGE == "filesystem")
MEDIA_MAX_UPLOAD_BYTES = env_int("MEDIA_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1024)
# Pillow's decompression-bomb limit: images with more pixels are refused (default 60 MP).
MEDIA_MAX_IMAGE_PIXELS = env_int("MEDIA_MAX_IMAGE_PIXELS", 60_000_000, minimum=1_000_000)
# Keep EXIF/XMP/IPTC (GPS position, camera serial) in stored files: off protects sources.
MEDIA_KEEP_METADATA = env_bool("MEDIA_KEEP_METADATA", False)
try:
    MEDIA_RENDITION_WIDTHS = sorted(
        {
            int(width)
            for width in env_list("MEDIA_RENDITION_WIDTHS", ["320", "640", "960", "1280", "1920"])
        }
    )
except ValueError:
    raise ImproperlyConfigured(
        "MEDIA_RENDITION_WIDTHS must be whole numbers, e.g. 320,640"
    ) from None
MEDIA_AVIF = env_bool("MEDIA_AVIF", True)  # when the installed Pillow can write AVIF
# The link-preview image of an article without a lead image: an absolute URL or a path on this
# site (a file under MEDIA_URL or STATIC_URL, ideally 1200x630), and what it shows.
SOCIAL_IMAGE_DEFAULT_URL = env_str("SOCIAL_IMAGE_DEFAULT_URL")
SOCIAL_IMAGE_DEFAULT_ALT = env_str("SOCIAL_IMAGE_DEFAULT_ALT")
if SOCIAL_IMAGE_DEFAULT_URL and not SOCIAL_IMAGE_DEFAULT_URL.startswith(
    ("https://", "http://", "/")
):
    raise ImproperlyConfigured(
        "SOCIAL_IMAGE_DEFAULT_URL must be an http(s) URL or a path starting with /"
    )
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
AWS_S3_CUSTOM_DOMAIN = env_str("AWS_S3_CUSTOM_DOMAIN") or None
AWS_LOCATION = env_str("AWS_LOCATION", "media")
if MEDIA_STORAGE == "s3":
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "custom_domain": AWS_S3_CUSTOM_DOMAIN,
            "location": AWS_LOCATION,
            # Public, content-addressed files: plain URLs, cached for a year, never overwritten.
            "querystring_auth": False,
            "file_overwrite": False,
            # Public reads by bucket policy (docs/media.md), or by an ACL such as public-read.
            "default_acl": env_str("AWS_DEFAULT_ACL") or None,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }

# Operations (docs/deploy.md): HTTPS policy, error reports, health checks and metrics.
# HTTPS redirects and HSTS are on by default when the site is served over TLS (SERVED_OVER_TLS);
# set them off to leave them to nginx (deploy/nginx/pressroom.conf). The health and metrics
# addresses answer before either (pressroom/operations/middleware.py), for probes. Browsers
# remember HSTS, so a year (the preload minimum); subdomains and preloading by choice.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SERVED_OVER_TLS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SERVED_OVER_TLS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Who is emailed the details of every 500 and failed task (comma-separated addresses).
ADMINS = env_list("ADMINS", [])
# Error reports to Sentry (or a compatible service such as GlitchTip): off unless a DSN is set.
SENTRY_DSN = env_str("SENTRY_DSN")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "production")
# /metrics (Prometheus) answers a request with `Authorization: Bearer METRICS_TOKEN`, or from
# an address in METRICS_ALLOWED_IPS (addresses or networks); with neither set it is a 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "one_line": {"()": "pressroom.lib.logs.OneLine"},
        # The database away: one line a minute, not a traceback (and an email) per request.
        "database_outage": {"()": "pressroom.lib.logfilters.DatabaseOutageOncePerMinute"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", LOG_LEVELS)},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["database_outage"]},
        # 500s (django.request) and failed tasks (django.tasks, django_tasks_db) go to ADMINS.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django_tasks_db": {"handlers": ["mail_admins"], "level": "INFO"},
        # A request for a host not in ALLOWED_HOSTS (a scanner, a stale DNS name) is the
        # client's mistake: one line each, no traceback, no email.
        "django.security.DisallowedHost": {
            "handlers": ["console"],
            "filters": ["one_line"],
            "propagate": False,
        },
    },
}


def _check_relations() -> None:
    """Settings that are each valid but wrong together, or values no reader could use."""
    site = urlsplit(SITE_URL)
    if site.scheme not in {"http", "https"} or not site.hostname:
        raise ImproperlyConfigured(f"SITE_URL must be an http(s) address, not {SITE_URL!r}")
    if not FEDERATION_USERNAME.isascii() or not FEDERATION_USERNAME.replace("_", "a").isalnum():
        raise ImproperlyConfigured(
            f"FEDERATION_USERNAME must be letters, digits and _ only, not {FEDERATION_USERNAME!r}"
        )
    if SMTP_OPTIONS["use_tls"] and SMTP_OPTIONS["use_ssl"]:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true")
    addresses = [("DEFAULT_FROM_EMAIL", DEFAULT_FROM_EMAIL), ("SERVER_EMAIL", SERVER_EMAIL)]
    addresses += [("FUNDRAISING_STAFF_EMAILS", staff) for staff in FUNDRAISING_STAFF_EMAILS]
    for name, value in [*addresses, *(("ADMINS", admin) for admin in ADMINS)]:
        if "@" not in value:
            raise ImproperlyConfigured(f"{name} must be an email address, not {value!r}")
    dkim = [DKIM_PRIVATE_KEY_PATH, DKIM_SELECTOR, DKIM_DOMAIN]
    if any(dkim) and not all(dkim):
        raise ImproperlyConfigured(
            "DKIM_PRIVATE_KEY_PATH, DKIM_SELECTOR and DKIM_DOMAIN: set all three, or none"
        )
    if DKIM_PRIVATE_KEY_PATH and not os.access(DKIM_PRIVATE_KEY_PATH, os.R_OK):
        raise ImproperlyConfigured(
            f"DKIM_PRIVATE_KEY_PATH {DKIM_PRIVATE_KEY_PATH!r} is not a readable file"
        )
    for name in ("TIME_ZONE", "DIGEST_TIMEZONE"):
        try:
            ZoneInfo(globals()[name])
        except (ValueError, ZoneInfoNotFoundError):
            raise ImproperlyConfigured(
                f"{name} must be a time zone name like Europe/Lisbon, not {globals()[name]!r}"
            ) from None
    if len(FUNDRAISING_CURRENCY) != 3 or not FUNDRAISING_CURRENCY.isalpha():
        raise ImproperlyConfigured(
            f"FUNDRAISING_CURRENCY must be a three-letter code like USD, not {FUNDRAISING_CURRENCY!r}"
        )
    for entry in METRICS_ALLOWED_IPS:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_IPS must list addresses or networks, not {entry!r}"
            ) from None
    if METRICS_TOKEN and is_placeholder_secret(METRICS_TOKEN):
        raise ImproperlyConfigured("METRICS_TOKEN must be a long random string (32+ characters)")
    if MEDIA_ROOT := globals().get("MEDIA_ROOT"):
        refuse_code_directory("MEDIA_ROOT", Path(MEDIA_ROOT))
    # What is served (nginx hands out all of STATIC_ROOT) or backed up whole (MEDIA_ROOT) never
    # holds the database, the secret key or the backups: each backup would carry every earlier
    # one (doubling each night) and a torn copy of the live SQLite file.
    public = {
        "STATIC_ROOT": STATIC_ROOT,
        **({"MEDIA_ROOT": Path(MEDIA_ROOT)} if MEDIA_ROOT else {}),
    }
    private = {"PRESSROOM_VAR_DIR": VAR_DIR, "BACKUP_DIR": BACKUP_DIR}
    for public_name, public_directory in public.items():
        for private_name, private_directory in private.items():
            inner = private_directory.resolve()
            if public_directory.resolve() in {inner, *inner.parents}:
                raise ImproperlyConfigured(
                    f"{public_name} must not be or contain {private_name} ({inner}): "
                    "give each a directory of its own"
                )
    if not MEDIA_URL.startswith(("/", "https://", "http://")) or MEDIA_URL == STATIC_URL:
        raise ImproperlyConfigured(f"MEDIA_URL must be a path like /media/, not {MEDIA_URL!r}")
    if not MEDIA_RENDITION_WIDTHS or not all(
        16 <= width <= 8000 for width in MEDIA_RENDITION_WIDTHS
    ):
        raise ImproperlyConfigured("MEDIA_RENDITION_WIDTHS must list widths between 16 and 8000")


_check_relations()

if SENTRY_DSN:
    from pressroom.lib.errors import start_error_tracker

    start_error_tracker(SENTRY_DSN, environment=SENTRY_ENVIRONMENT)
