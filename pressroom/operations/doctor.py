"""`pressroom doctor`: what an operator gets wrong, checked one by one.

Each check returns a Finding (OK, WARN or FAIL, with one line of detail) and never raises: a
check that breaks is itself a FAIL. Checks that talk to a server (database, cache, SMTP) use
the same settings as the site, so a passing doctor means the site can reach them too.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks as django_checks
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from pressroom.lib.staticfiles import collected_names
from pressroom.lib.tasks import load_task_modules
from pressroom.operations import health
from pressroom.workers.models import last_worker_heartbeat

OK, WARN, FAIL = "OK", "WARN", "FAIL"
MINIMUM_PYTHON = (3, 12)
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
PLACEHOLDER_HOSTS = ("example.org", "example.com", "example.net")
# A live worker finishes a task at least every DIGEST_RECOVERY_INTERVAL seconds (the
# scheduler queues the delivery recovery that often); allow for a long task in between.
WORKER_SILENCE = timedelta(minutes=10)
# A task due this long ago and still waiting means no worker is taking work.
TASK_OVERDUE = timedelta(minutes=5)
DISK_WARN_BYTES = 2 * 1024**3
DISK_FAIL_BYTES = 200 * 1024**2
# Deployment warnings that may be nginx's job instead (docs/deploy.md, "HTTPS").
PROXY_JOBS = {"security.W004": "HSTS", "security.W008": "HTTPS redirect"}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str


def run_checks(checks: Iterable[tuple[str, Callable[[], tuple[str, str]]]]) -> list[Finding]:
    findings = []
    for name, check in checks:
        try:
            status, detail = check()
        except Exception as error:  # the doctor reports a broken check, it does not crash
            status, detail = FAIL, one_line(error)
        findings.append(Finding(name, status, detail))
    return findings


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}"[:300]


def all_checks() -> list[tuple[str, Callable[[], tuple[str, str]]]]:
    return [
        ("python", check_python),
        ("settings", check_settings),
        ("database", check_database),
        ("migrations", check_migrations),
        ("cache", check_cache),
        ("cache persistence", check_cache_persistence),
        ("smtp", check_smtp),
        ("storage", check_storage),
        ("static root", check_static_root),
        ("secret key", check_secret_key),
        ("worker", check_worker),
        ("scheduled tasks", check_scheduled_tasks),
        ("disk space", check_disk_space),
        ("check --deploy", check_deploy),
    ]


def check_python() -> tuple[str, str]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < MINIMUM_PYTHON:
        return FAIL, f"Python {version}; Pressroom needs 3.12 or newer"
    return OK, f"Python {version}"


def check_settings() -> tuple[str, str]:
    """Types, ranges and paths were checked at start-up; here, what only looks wrong."""
    problems = []
    if settings.DEBUG:
        problems.append("DEBUG is on (never in production)")
    hosts = [urlsplit(settings.SITE_URL).hostname or "", *settings.ALLOWED_HOSTS]
    placeholders = sorted({host for host in hosts if host.endswith(PLACEHOLDER_HOSTS)})
    if placeholders:
        problems.append(f"placeholder host {', '.join(placeholders)} in SITE_URL/ALLOWED_HOSTS")
    if settings.DEFAULT_FROM_EMAIL.rstrip(">").endswith(("@localhost", *PLACEHOLDER_HOSTS)):
        problems.append(f"DEFAULT_FROM_EMAIL is {settings.DEFAULT_FROM_EMAIL!r}")
    if problems:
        return FAIL, "; ".join(problems)
    if not settings.ADMINS and not settings.SENTRY_DSN:
        return WARN, "nobody hears of errors: set ADMINS (email) or SENTRY_DSN"
    return OK, f"site {settings.SITE_URL}"


def check_database() -> tuple[str, str]:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return OK, f"{connection.vendor} {connection.settings_dict.get('NAME')}"


def check_migrations() -> tuple[str, str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:3])
        more = f" and {len(plan) - 3} more" if len(plan) > 3 else ""
        return FAIL, f"{len(plan)} unapplied: {names}{more}; run `pressroom migrate`"
    return OK, "all applied"


def check_cache() -> tuple[str, str]:
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    health.check_cache()
    if not health.has_shared_cache():
        return OK, f"{backend} (per process; several app servers need Redis)"
    return OK, backend


def check_cache_persistence() -> tuple[str, str]:
    """A Redis that saves snapshots (RDB) or an append-only file brings an older page-cache
    generation back after a restart, and with it pages older than those already served."""
    if not health.has_shared_cache():
        return OK, "not a shared cache"
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    saves = client.config_get("save").get("save", "")
    append_only = client.config_get("appendonly").get("appendonly", "no")
    persistence = [
        *([f"RDB snapshots (save {saves!r})"] if saves else []),
        *(["AOF (appendonly yes)"] if append_only == "yes" else []),
    ]
    if persistence:
        return WARN, (
            f"Redis persists: {' and '.join(persistence)}; a restart may bring back old pages: "
            'set `save ""` and `appendonly no` (docs/deploy.md)'
        )
    return OK, "no persistence"


def check_smtp() -> tuple[str, str]:
    """Connect, EHLO, STARTTLS if configured and AUTH if credentials are set: nothing is sent."""
    backend = settings.MAILERS["default"]["BACKEND"]
    if backend != SMTP_BACKEND:
        return OK, f"{backend} (a provider's API; not checked)"
    options = settings.MAILERS["default"]["OPTIONS"]
    host, port, timeout = options["host"], options["port"], min(options["timeout"], 15)
    context = ssl.create_default_context()
    try:
        server: smtplib.SMTP = (
            smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            if options["use_ssl"]
            else smtplib.SMTP(host, port, timeout=timeout)
        )
    except (OSError, smtplib.SMTPException) as error:
        return FAIL, f"{host}:{port}: {one_line(error)}"
    try:
        server.ehlo()
        if options["use_tls"]:
            server.starttls(context=context)
            server.ehlo()
        if options["username"]:
            try:
                server.login(options["username"], options["password"])
            except smtplib.SMTPException as error:
                return FAIL, f"{host}:{port} refused the login of {options['username']!r}: " + (
                    one_line(error)
                )
            return OK, f"{host}:{port}, logged in as {options['username']!r}"
        return OK, f"{host}:{port} answers (no credentials set)"
    finally:
        try:
            server.quit()
        except smtplib.SMTPException:
            server.close()


def storage_directories() -> dict[str, Path]:
    """The directories the site writes to. STATIC_ROOT is not one: collectstatic fills it (as
    root, in docs/deploy.md) and the site only reads it."""
    directories = {"PRESSROOM_VAR_DIR": settings.VAR_DIR}
    if getattr(settings, "MEDIA_ROOT", ""):
        directories["MEDIA_ROOT"] = Path(settings.MEDIA_ROOT)
    return directories


def check_storage() -> tuple[str, str]:
    problems = []
    for name, directory in storage_directories().items():
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
                pass
        except OSError as error:
            problems.append(f"{name} {directory} is not writable ({error.strerror})")
    static_root = Path(settings.STATIC_ROOT)
    # A missing STATIC_ROOT is the static-files check's finding (run collectstatic).
    if static_root.exists() and not os.access(static_root, os.R_OK | os.X_OK):
        problems.append(f"STATIC_ROOT {static_root} is not readable")
    if problems:
        return FAIL, "; ".join(problems)
    written = ", ".join(str(path) for path in storage_directories().values())
    return OK, f"{written} writable; STATIC_ROOT {static_root} readable"


def check_static_root() -> tuple[str, str]:
    """Collected, and holding nothing but what collectstatic wrote (which alone is served)."""
    root = settings.STATIC_ROOT
    names = collected_names(root)
    if not names:
        return FAIL, f"{root} has no collected files: run `pressroom collectstatic --no-input`"
    stray = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file()
        and path.name != "staticfiles.json"
        and str(path.relative_to(root)).removesuffix(".gz").removesuffix(".br") not in names
    )
    if stray:
        listed = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
        return (
            WARN,
            f"{root}: {len(stray)} files collectstatic did not write (not served): {listed}",
        )
    if root.stat().st_mode & 0o002:
        return WARN, f"{root} is writable by every user"
    return OK, f"{root}: {len(names)} collected names"


def check_secret_key() -> tuple[str, str]:
    key = settings.SECRET_KEY
    if not os.environ.get("SECRET_KEY", "").strip():
        return WARN, "SECRET_KEY is not set: a development key from var/ is used"
    # Django's own bar (security.W009): 50 characters, 5 different ones, not Django's default.
    if len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-"):
        return WARN, f"SECRET_KEY is weak ({len(key)} characters; use 50 random ones)"
    return OK, f"{len(key)} characters"


def last_worker_activity() -> datetime | None:
    """When a worker last showed a sign of life: its heartbeat (every few seconds while it
    runs), or a task it started or finished. The single place that knows what that is."""
    activity = DBTaskResult.objects.aggregate(
        started=Max("started_at"), finished=Max("finished_at")
    )
    moments = [*activity.values(), last_worker_heartbeat()]
    return max((moment for moment in moments if moment is not None), default=None)


def check_worker() -> tuple[str, str]:
    last = last_worker_activity()
    if last is None:
        return FAIL, "no worker has ever run a task: start `pressroom worker`"
    silence = timezone.now() - last
    if silence > WORKER_SILENCE:
        return FAIL, (
            f"no worker heartbeat or task for {format_age(silence)} "
            f"(since {last:%Y-%m-%d %H:%M} UTC)"
        )
    return OK, f"last seen {format_age(silence)} ago"


def format_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def schedule() -> dict[str, object]:
    """The periodic jobs the worker's scheduler runs (django-crontask): task path -> trigger."""
    from crontask import scheduler

    load_task_modules()
    return {job.func.__self__.module_path: job.trigger for job in scheduler.get_jobs()}


def check_scheduled_tasks() -> tuple[str, str]:
    now = timezone.now()
    problems = []
    waiting = DBTaskResult.objects.ready().exclude(run_after=get_date_max())
    late = waiting.filter(run_after__lt=now - TASK_OVERDUE).count()
    late += (
        DBTaskResult.objects.ready()
        .filter(run_after=get_date_max(), enqueued_at__lt=now - TASK_OVERDUE)
        .count()
    )
    if late:
        problems.append(f"{late} tasks due for over {format_age(TASK_OVERDUE)} and not started")
    last_enqueued = dict(
        DBTaskResult.objects.values_list("task_path").annotate(last=Max("enqueued_at"))
    )
    jobs = schedule()
    for path, trigger in jobs.items():
        last = last_enqueued.get(path)
        if last is None:
            continue  # a new install, or a schedule not due yet since the worker started
        interval = getattr(trigger, "interval", None)
        due = (
            last + interval
            if isinstance(interval, timedelta)
            else trigger.get_next_fire_time(None, last + timedelta(seconds=1))  # type: ignore[attr-defined]
        )
        if due is not None and due < now - TASK_OVERDUE:
            problems.append(f"{path.rsplit('.', 1)[-1]} was due {due:%Y-%m-%d %H:%M} UTC")
    failed = DBTaskResult.objects.filter(
        status=TaskResultStatus.FAILED, finished_at__gte=now - timedelta(days=1)
    ).count()
    if problems:
        return FAIL, "; ".join(problems) + " (is `pressroom worker` running its scheduler?)"
    if failed:
        return WARN, f"{len(jobs)} schedules on time; {failed} tasks failed in the last day"
    return OK, f"{len(jobs)} schedules on time, nothing overdue"


def check_disk_space(
    warn_below: int = DISK_WARN_BYTES, fail_below: int = DISK_FAIL_BYTES
) -> tuple[str, str]:
    directories = dict(storage_directories())
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        directories["database"] = Path(database["NAME"]).parent
    worst, details = OK, []
    for name, directory in directories.items():
        existing = next(path for path in (directory, *directory.parents) if path.exists())
        free = shutil.disk_usage(existing).free
        if free < fail_below:
            worst = FAIL
        elif free < warn_below and worst == OK:
            worst = WARN
        if free < warn_below:
            details.append(f"{name}: only {free / 1024**2:.0f} MB free")
    if details:
        return worst, "; ".join(details)
    return OK, f"over {warn_below / 1024**3:.0f} GB free everywhere"


def check_deploy() -> tuple[str, str]:
    messages = django_checks.run_checks(include_deployment_checks=True)
    messages = [message for message in messages if not message.is_silenced()]
    errors = [message.id for message in messages if message.level >= django_checks.ERROR]
    warnings = [message.id for message in messages if message.level == django_checks.WARNING]
    hints = sorted(PROXY_JOBS[id] for id in warnings if id in PROXY_JOBS)
    parts = [
        *([f"errors {', '.join(map(str, errors))}"] if errors else []),
        *([f"warnings {', '.join(map(str, warnings))}"] if warnings else []),
    ]
    detail = "; ".join(parts) or "no warnings"
    if hints:
        detail += f" ({' and '.join(hints)}: set them here or in nginx)"
    if errors:
        return FAIL, detail + "; see `pressroom check --deploy`"
    return (WARN if warnings else OK), detail


def format_table(findings: list[Finding]) -> str:
    width = max(len("check"), *(len(finding.check) for finding in findings))
    lines = [f"{'check':<{width}}  status  detail"]
    lines += [f"{f.check:<{width}}  {f.status:<6}  {f.detail}" for f in findings]
    return "\n".join(lines)
