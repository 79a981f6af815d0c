"""`pressroom doctor`: each check catches the mistake it is there for, against real servers."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.newsletter.tests.conftest import MailSink
from pressroom.newsletter.tests.conftest import free_port as free_smtp_port
from pressroom.operations import doctor
from pressroom.operations.tests.servers import closed_port, redis_caches, redis_server
from tests.test_startup import clean_env, run_pressroom

SECRET = "doctor-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hAzz9Qw7zT2vB8nM4pL6rY1s"


def row(output: str, check: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(check + " "))


def test_doctor_prints_a_table_and_exits_non_zero_on_an_unreachable_database(tmp_path):
    env = clean_env(
        SECRET_KEY=SECRET,
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"postgres://pressroom:pressroom@127.0.0.1:{closed_port()}/pressroom",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_SSL_REDIRECT="true",
    )
    result = run_pressroom("doctor", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "status", "detail"]
    assert len(lines) == 1 + len(doctor.all_checks())
    assert "FAIL    OperationalError: connection failed" in row(result.stdout, "database")
    assert "FAIL" in row(result.stdout, "migrations")
    assert row(result.stdout, "python").split()[1] == "OK"
    # HSTS and the HTTPS redirect come from the environment: Django's deploy check is content.
    deploy = row(result.stdout, "check --deploy")
    assert "security.W004" not in deploy
    assert "security.W008" not in deploy
    assert result.stderr.strip().splitlines()[-1].startswith("CommandError: ")
    assert "database, migrations" in result.stderr


def test_unapplied_migrations_fail(tmp_path):
    env = clean_env(
        SECRET_KEY=SECRET,
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'new.sqlite3'}",
    )
    result = run_pressroom("doctor", env=env)
    assert result.returncode == 1
    assert row(result.stdout, "database").split()[1] == "OK"
    migrations = row(result.stdout, "migrations")
    assert "FAIL" in migrations
    assert "unapplied" in migrations
    assert "run `pressroom migrate`" in migrations


@pytest.fixture
def smtp_with_login(settings):
    """A real SMTP server that accepts one login (over plain SMTP: it is loopback)."""
    sink = MailSink()

    def authenticate(server, session, envelope, mechanism, auth_data):
        valid = isinstance(auth_data, LoginPassword) and (
            auth_data.login == b"newsroom" and auth_data.password == b"right-password"
        )
        # handled=False: aiosmtpd answers 235 or 535 itself.
        return AuthResult(success=valid, handled=False)

    port = free_smtp_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield port, sink
    controller.stop()


def use_smtp(settings, port: int, username: str = "", password: str = "") -> None:
    options = {
        "host": "127.0.0.1",
        "port": port,
        "username": username,
        "password": password,
        "use_tls": False,
        "use_ssl": False,
        "timeout": 10,
    }
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "bulk": {"BACKEND": backend, "OPTIONS": options},
    }


def test_smtp_login_is_checked_without_sending(settings, smtp_with_login):
    port, sink = smtp_with_login
    use_smtp(settings, port, "newsroom", "wrong-password")
    status, detail = doctor.check_smtp()
    assert status == doctor.FAIL
    assert f"127.0.0.1:{port} refused the login of 'newsroom'" in detail
    assert "535" in detail  # the server's own answer

    use_smtp(settings, port, "newsroom", "right-password")
    assert doctor.check_smtp() == (doctor.OK, f"127.0.0.1:{port}, logged in as 'newsroom'")
    assert sink.messages == []


def test_an_smtp_server_that_does_not_answer_fails(settings):
    port = closed_port()
    use_smtp(settings, port)
    status, detail = doctor.check_smtp()
    assert status == doctor.FAIL
    assert detail.startswith(f"127.0.0.1:{port}: ConnectionRefusedError")


def test_a_read_only_directory_fails_the_storage_check(settings, tmp_path):
    read_only = tmp_path / "var"
    read_only.mkdir()
    settings.VAR_DIR = read_only
    settings.STATIC_ROOT = tmp_path / "static"
    assert doctor.check_storage()[0] == doctor.OK
    if os.geteuid() == 0:  # root writes through file modes: make the file system read-only
        subprocess.run(["mount", "--bind", str(read_only), str(read_only)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(read_only)], check=True)
    else:
        read_only.chmod(0o555)
    try:
        status, detail = doctor.check_storage()
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(read_only)], check=True)
        read_only.chmod(0o755)
    assert status == doctor.FAIL
    assert f"PRESSROOM_VAR_DIR {read_only} is not writable" in detail


def test_a_read_only_static_root_passes_the_storage_check(settings, tmp_path):
    """collectstatic runs as root (docs/deploy.md): the site only has to read STATIC_ROOT."""
    (tmp_path / "var").mkdir()
    static_root = tmp_path / "static"
    static_root.mkdir()
    settings.VAR_DIR = tmp_path / "var"
    settings.STATIC_ROOT = static_root
    if os.geteuid() == 0:  # root writes through file modes: make the file system read-only
        subprocess.run(["mount", "--bind", str(static_root), str(static_root)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(static_root)], check=True)
    else:
        static_root.chmod(0o555)
    try:
        status, detail = doctor.check_storage()
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(static_root)], check=True)
        static_root.chmod(0o755)
    assert status == doctor.OK, detail
    assert f"STATIC_ROOT {static_root} readable" in detail
    if os.geteuid() != 0:  # root reads through file modes
        static_root.chmod(0o000)
        try:
            status, detail = doctor.check_storage()
        finally:
            static_root.chmod(0o755)
        assert status == doctor.FAIL
        assert f"STATIC_ROOT {static_root} is not readable" in detail


def test_static_root_must_be_collected_and_hold_only_collected_files(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    status, detail = doctor.check_static_root()
    assert status == doctor.FAIL
    assert "run `pressroom collectstatic --no-input`" in detail

    (tmp_path / "staticfiles.json").write_text('{"paths": {"a.css": "a.123.css"}}')
    (tmp_path / "a.css").write_text("a{}")
    (tmp_path / "a.123.css").write_text("a{}")
    (tmp_path / "a.123.css.gz").write_bytes(b"")
    assert doctor.check_static_root()[0] == doctor.OK
    (tmp_path / ".env").write_text("SECRET_KEY=oops")
    status, detail = doctor.check_static_root()
    assert status == doctor.WARN
    assert "1 files collectstatic did not write (not served): .env" in detail


def test_a_weak_secret_key_is_a_warning(settings, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a" * 20 + "bcdef")
    settings.SECRET_KEY = "a" * 20 + "bcdef"
    assert doctor.check_secret_key() == (
        doctor.WARN,
        "SECRET_KEY is weak (25 characters; use 50 random ones)",
    )
    monkeypatch.setenv("SECRET_KEY", SECRET)
    settings.SECRET_KEY = SECRET
    assert doctor.check_secret_key()[0] == doctor.OK
    monkeypatch.delenv("SECRET_KEY")
    assert doctor.check_secret_key()[0] == doctor.WARN


# A real worker loop: it closes and reopens the connection, as between tasks.
@pytest.mark.django_db(transaction=True)
def test_the_worker_check_needs_a_task_run_recently():
    status, detail = doctor.check_worker()
    assert status == doctor.FAIL
    assert "start `pressroom worker`" in detail

    from crontask.tasks import heartbeat

    heartbeat.enqueue()
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    assert doctor.check_worker()[0] == doctor.OK

    long_ago = timezone.now() - timedelta(minutes=25)
    DBTaskResult.objects.update(started_at=long_ago, finished_at=long_ago)
    status, detail = doctor.check_worker()
    assert status == doctor.FAIL
    assert detail.startswith("no worker heartbeat or task for 25 min")

    # A running worker's heartbeat is enough, idle or not.
    from pressroom.workers import heartbeat as worker_heartbeat

    worker_heartbeat.beat(force=True)
    assert doctor.check_worker()[0] == doctor.OK


@pytest.mark.django_db
def test_tasks_due_and_not_run_fail_the_schedule_check():
    from crontask.tasks import heartbeat

    from pressroom.newsletter.tasks import send_daily_digest

    assert doctor.check_scheduled_tasks()[0] == doctor.OK
    heartbeat.using(run_after=timezone.now() - timedelta(minutes=20)).enqueue()
    status, detail = doctor.check_scheduled_tasks()
    assert status == doctor.FAIL
    assert "1 tasks due for over 5 min and not started" in detail

    DBTaskResult.objects.all().delete()
    send_daily_digest.enqueue()
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(days=3), status="SUCCESSFUL")
    status, detail = doctor.check_scheduled_tasks()
    assert status == doctor.FAIL
    assert "send_daily_digest was due" in detail


def test_redis_persistence_is_a_warning_and_a_dead_redis_a_failure(settings, tmp_path):
    with redis_server(tmp_path, "--save", "900 1", "--appendonly", "no") as port:
        settings.CACHES = redis_caches(port)
        assert doctor.check_cache() == (doctor.OK, "RedisCache")
        status, detail = doctor.check_cache_persistence()
        assert status == doctor.WARN
        assert "RDB snapshots (save '900 1')" in detail
    with redis_server(tmp_path, "--save", "", "--appendonly", "yes") as port:
        settings.CACHES = redis_caches(port)
        status, detail = doctor.check_cache_persistence()
        assert status == doctor.WARN
        assert "AOF (appendonly yes)" in detail
    with redis_server(tmp_path, "--save", "", "--appendonly", "no") as port:
        settings.CACHES = redis_caches(port)
        assert doctor.check_cache_persistence() == (doctor.OK, "no persistence")
    # What CACHE_URL=redis:// gives: the backend that turns an outage into misses.
    resilient = "pressroom.lib.cache.ResilientRedisCache"
    with redis_server(tmp_path, "--save", "900 1", "--appendonly", "no") as port:
        settings.CACHES = redis_caches(port, resilient)
        assert doctor.check_cache() == (doctor.OK, "ResilientRedisCache")
        assert doctor.check_cache_persistence()[0] == doctor.WARN
    settings.CACHES = redis_caches(closed_port(), resilient)
    findings = doctor.run_checks([("cache", doctor.check_cache)])
    assert findings[0].status == doctor.FAIL
    settings.CACHES = redis_caches(closed_port())
    findings = doctor.run_checks([("cache", doctor.check_cache)])
    assert findings[0].status == doctor.FAIL
    assert "ConnectionError" in findings[0].detail


def test_disk_space_below_the_thresholds(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert doctor.check_disk_space(warn_below=1, fail_below=0)[0] == doctor.OK
    enormous = 1024**6  # an exabyte: more than any test machine has free
    assert doctor.check_disk_space(warn_below=enormous, fail_below=0)[0] == doctor.WARN
    status, detail = doctor.check_disk_space(warn_below=enormous, fail_below=enormous)
    assert status == doctor.FAIL
    assert "PRESSROOM_VAR_DIR: only" in detail


@pytest.mark.django_db
def test_deployment_checks_fail_on_errors_and_name_what_nginx_may_do(settings):
    settings.SECURE_HSTS_SECONDS = 0
    settings.SECURE_SSL_REDIRECT = False
    # The test runner's in-memory mail backend: Django's deploy check calls it an error.
    status, detail = doctor.check_deploy()
    assert status == doctor.FAIL
    assert detail.startswith("errors mail.E001; warnings ")
    use_smtp(settings, 25)
    status, detail = doctor.check_deploy()
    assert status == doctor.WARN
    assert "security.W004" in detail
    assert detail.endswith("(HSTS and HTTPS redirect: set them here or in nginx)")


def test_an_old_python_fails(monkeypatch):
    monkeypatch.setattr(doctor, "MINIMUM_PYTHON", (99, 0))
    status, detail = doctor.check_python()
    assert status == doctor.FAIL
    assert "needs 3.12 or newer" in detail


def test_a_check_that_breaks_is_a_failure_not_a_crash():
    def broken() -> tuple[str, str]:
        raise RuntimeError("boom\nwith a second line")

    assert doctor.run_checks([("broken", broken)]) == [
        doctor.Finding("broken", doctor.FAIL, "RuntimeError: boom with a second line")
    ]
