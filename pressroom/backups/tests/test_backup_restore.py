"""An operator backs a site up, restores it elsewhere, and both serve the same pages; the copy
stays isolated (its own cache keys, tasks paused) until it goes live.

Runs on SQLite, and on PostgreSQL too when the suite's DATABASE_URL is PostgreSQL (pg_dump and
pg_restore from Debian's postgresql-client), with the copy restored as an unprivileged role.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.services import RedisServer, get, pressroom, pressroom_ok, serve, site_environment, stop

SERVER_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRESQL = SERVER_URL.startswith(("postgres://", "postgresql://"))
RESTORER = ("pressroom_restorer", "restorer-password")

ENQUEUE_A_TASK = (
    "from pressroom.newsletter.tasks import recover_deliveries; recover_deliveries.enqueue()"
)
COUNT_READY_TASKS = (
    "from django_tasks_db.models import DBTaskResult; "
    "print(DBTaskResult.objects.filter(status='READY').count())"
)
PUBLISH_AFTER_THE_BACKUP = """
from django.utils import timezone
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
services.save_article(
    Article(title="Published after the backup", body="<p>Only on the live site.</p>",
            status="published", published_at=timezone.now()),
    topics=[Topic.objects.get(slug="peru")], authors=[],
)
"""


def _maintenance(url: str):
    import psycopg

    return psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True)


@pytest.fixture
def databases(request, tmp_path) -> Iterator[tuple[str, str]]:
    """DATABASE_URLs of the live site and of the empty database the copy is restored into."""
    if request.param == "sqlite":
        yield (
            f"sqlite:///{tmp_path / 'live-var' / 'pressroom.sqlite3'}",
            f"sqlite:///{tmp_path / 'copy-var' / 'pressroom.sqlite3'}",
        )
        return
    if not ON_POSTGRESQL:
        pytest.skip("DATABASE_URL is not PostgreSQL")
    suffix = urlsplit(SERVER_URL).path.strip("/") or "pressroom"
    live, copy = f"{suffix}_backup_live", f"{suffix}_backup_copy"
    role, password = RESTORER
    with _maintenance(SERVER_URL) as connection:
        for name in (live, copy):
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        connection.execute(f"CREATE DATABASE {live}")
        # The copy's database belongs to an ordinary role, as the application's own would.
        connection.execute(f"CREATE DATABASE {copy} OWNER {role}")
    parts = urlsplit(SERVER_URL)
    host = f"{parts.hostname}:{parts.port or 5432}"
    yield (
        urlunsplit(parts._replace(path=f"/{live}")),
        urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}", path=f"/{copy}")),
    )
    with _maintenance(SERVER_URL) as connection:
        for name in (live, copy):
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _comparable(html: str) -> str:
    # Per-response values: CSRF tokens, and nonces if any.
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'nonce="[^"]+"', "", html)


def _pages(base: str) -> dict[str, str]:
    """Home, a topic, an article and the feed of the site at `base`."""
    status, _, _home = get(base + "/")
    assert status == 200
    _, _, topic = get(base + "/topics/peru/")
    article = re.search(r'href="(/articles/[^"]+/)"', topic)
    assert article, "the topic page lists articles"
    pages = {}
    for path in ("/", "/topics/peru/", article.group(1), "/feed/"):
        status, _, body = get(base + path)
        assert status == 200, (path, status)
        # Absolute links (the feed's) name the server that answered.
        pages[path] = _comparable(body.replace(base, "http://site"))
    return pages


@pytest.mark.slow
@pytest.mark.parametrize("databases", ["sqlite", "postgresql"], indirect=True)
def test_a_backup_restored_elsewhere_serves_the_same_pages_and_stays_isolated(tmp_path, databases):
    live_url, copy_url = databases
    redis = RedisServer().start()  # shared by both sites, as a scratch restore on the same host
    settings_file = tmp_path / "etc" / "pressroom.env"
    settings_file.parent.mkdir()
    settings_file.write_text("SECRET_KEY=the-live-secret\nSITE_NAME=Pressroom News\n")
    dkim_key = tmp_path / "etc" / "dkim.pem"
    dkim_key.write_text("-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n")
    live = site_environment(
        tmp_path / "live-var",
        DATABASE_URL=live_url,
        CACHE_URL=redis.url,
        PRESSROOM_ENV_FILE=str(settings_file),
        DKIM_PRIVATE_KEY_PATH=str(dkim_key),
        DKIM_SELECTOR="pressroom",
        DKIM_DOMAIN="example.org",
    )
    copy = {**live, "PRESSROOM_VAR_DIR": str(tmp_path / "copy-var"), "DATABASE_URL": copy_url}
    (tmp_path / "copy-var").mkdir()
    processes = []
    try:
        if "STATIC_ROOT" in live:
            pressroom_ok("collectstatic", "--no-input", "-v0", env=live)
        pressroom_ok("migrate", "--no-input", env=live)
        pressroom_ok("demo", "--articles", "15", "--topics", "4", env=live)
        # A task waiting in the live site's queue when the backup is taken (the digest's
        # sending, say): the copy must not run it before it goes live.
        pressroom_ok("shell", "--no-imports", "-c", ENQUEUE_A_TASK, env=live)

        written = pressroom_ok("backup", "--to", str(tmp_path / "backups"), env=live)
        archive = next((tmp_path / "backups").glob("pressroom-*.tar.gz"))
        assert f"Backup written: {archive}" in written
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
            manifest = json.load(tar.extractfile("manifest.json"))
        database = "database.pgdump" if "postgres" in live_url else "database.sqlite3"
        assert {"manifest.json", database, "settings/pressroom.env"} <= names
        assert "settings/dkim-private-key.pem" in names
        assert manifest["engine"] == ("postgresql" if "postgres" in live_url else "sqlite")
        assert manifest["migrations"]["publishing"].startswith("0")

        restored = pressroom_ok("restore-backup", str(archive), env=copy)
        assert "Isolated as restored copy" in restored
        kept = tmp_path / "copy-var" / "restored-settings"
        assert (kept / "pressroom.env").read_text() == settings_file.read_text()
        assert (kept / "dkim-private-key.pem").read_text() == dkim_key.read_text()
        assert stat.S_IMODE((kept / "pressroom.env").stat().st_mode) == 0o600

        live_server, live_base = serve(live)
        copy_server, copy_base = serve(copy)
        processes += [live_server, copy_server]
        live_pages, copy_pages = _pages(live_base), _pages(copy_base)
        assert live_pages.keys() == copy_pages.keys()
        for path in live_pages:
            assert copy_pages[path] == live_pages[path], f"{path} differs after the restore"
        assert "Published after the backup" not in live_pages["/"]

        # The live site moves on. Both share one Redis: the copy's own cache keys keep each
        # site's pages apart, whichever renders first.
        pressroom_ok("shell", "--no-imports", "-c", PUBLISH_AFTER_THE_BACKUP, env=live)
        assert "Published after the backup" in get(live_base + "/")[2]
        assert "Published after the backup" not in get(copy_base + "/")[2]
        assert "Published after the backup" in get(live_base + "/")[2]
        assert "Published after the backup" not in get(copy_base + "/topics/peru/")[2]

        # Tasks are paused in the copy until it goes live; the live site's are its own.
        paused = pressroom_ok("worker", "--batch", env=copy)
        assert "Tasks are paused: this is a restored copy" in paused
        assert (
            pressroom_ok("shell", "--no-imports", "-c", COUNT_READY_TASKS, env=copy).strip() == "1"
        )
        assert "Live:" in pressroom_ok("go-live", env=copy)
        pressroom_ok("worker", "--batch", env=copy)
        assert (
            pressroom_ok("shell", "--no-imports", "-c", COUNT_READY_TASKS, env=copy).strip() == "0"
        )
        assert (
            pressroom_ok("shell", "--no-imports", "-c", COUNT_READY_TASKS, env=live).strip() == "1"
        )
    finally:
        for process in processes:
            stop(process)
        redis.stop()


@pytest.mark.slow
def test_restore_refuses_a_database_that_is_not_empty_and_bad_input_with_one_clear_line(tmp_path):
    site = site_environment(tmp_path / "var")
    pressroom_ok("migrate", "--no-input", env=site)
    pressroom_ok("backup", "--to", str(tmp_path / "backups"), env=site)
    archive = next((tmp_path / "backups").glob("pressroom-*.tar.gz"))
    not_an_archive = tmp_path / "notes.tar.gz"
    not_an_archive.write_text("not a backup")
    a_file = tmp_path / "a-file"
    a_file.write_text("")

    refusals = {
        ("restore-backup", str(archive)): "is not empty",
        ("restore-backup", str(tmp_path / "missing.tar.gz")): "no backup at",
        ("restore-backup", str(not_an_archive)): "is not a Pressroom backup",
        ("backup", "--keep", "0"): "--keep must be 1 or more",
        ("backup", "--to", str(a_file)): "is not a directory",
    }
    for arguments, message in refusals.items():
        result = pressroom(*arguments, env=site)
        assert result.returncode != 0, arguments
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert message in lines[0]
        assert "Traceback" not in result.stderr
    # A restore into a PostgreSQL database from a SQLite backup is refused too.
    elsewhere = site_environment(
        tmp_path / "elsewhere", DATABASE_URL="postgres://nobody@127.0.0.1:1/none"
    )
    result = pressroom("restore-backup", str(archive), env=elsewhere)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"CommandError: restore failed: {archive.name} holds a sqlite database but "
        "DATABASE_URL names a postgresql one: restore into the same kind of database"
    ]
    # A settings file that is named but missing fails the backup loudly, not silently.
    result = pressroom(
        "backup", "--to", str(tmp_path / "backups"),
        env={**site, "PRESSROOM_ENV_FILE": str(tmp_path / "missing.env")},
    )  # fmt: skip
    assert result.returncode != 0
    assert "PRESSROOM_ENV_FILE" in result.stderr.strip().splitlines()[0]


@pytest.mark.slow
def test_backups_keep_the_newest_n_and_the_worker_takes_one_when_asked(tmp_path):
    site = site_environment(tmp_path / "var", BACKUP_DIR=str(tmp_path / "backups"))
    pressroom_ok("migrate", "--no-input", env=site)
    for _ in range(3):
        pressroom_ok("backup", "--keep", "2", env=site)
    kept = sorted((tmp_path / "backups").glob("pressroom-*.tar.gz"))
    assert len(kept) == 2
    # The scheduled job's task, run by a real worker process.
    (tmp_path / "backups").joinpath(kept[0].name).unlink()
    (tmp_path / "backups").joinpath(kept[1].name).unlink()
    pressroom_ok(
        "shell", "-c", "from pressroom.backups.tasks import take_backup; take_backup.enqueue()",
        env=site,
    )  # fmt: skip
    pressroom_ok("worker", "--batch", env=site)
    assert len(list((tmp_path / "backups").glob("pressroom-*.tar.gz"))) == 1


def test_the_worker_schedules_backups_from_backup_schedule(settings):
    import importlib

    from crontask import scheduler

    import pressroom.backups.tasks

    settings.BACKUP_SCHEDULE = "30 3 * * *"
    importlib.reload(pressroom.backups.tasks)  # what `pressroom worker` does at start-up
    job = {job.name: job for job in scheduler.get_jobs()}["take_backup"]
    fields = {field.name: str(field) for field in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "30")


def test_a_bad_backup_schedule_stops_start_up_with_one_clear_line(tmp_path):
    site = site_environment(tmp_path / "var", BACKUP_SCHEDULE="every night")
    result = pressroom("check", env=site)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "pressroom: configuration error: BACKUP_SCHEDULE must be a cron expression like "
        "'30 3 * * *', not 'every night'"
    ]


def test_a_restored_copy_has_its_own_cache_keys_until_it_goes_live(tmp_path):
    site = site_environment(tmp_path / "var")
    script = (
        "from django.conf import settings; print(repr(settings.CACHES['default']['KEY_PREFIX']))"
    )
    assert pressroom_ok("shell", "--no-imports", "-c", script, env=site).strip() == "''"
    marker_script = "from django.conf import settings; print(settings.RESTORED_COPY_FILE)"
    marker = Path(pressroom_ok("shell", "--no-imports", "-c", marker_script, env=site).strip())
    marker.write_text("20261129-abcd\n")
    assert (
        pressroom_ok("shell", "--no-imports", "-c", script, env=site).strip()
        == "'restored-20261129-abcd'"
    )
    # Another database in the same var directory (the live site beside a scratch copy) is not
    # isolated by the copy's marker.
    other = {**site, "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'live.sqlite3'}"}
    assert pressroom_ok("shell", "--no-imports", "-c", script, env=other).strip() == "''"
    pressroom_ok("go-live", env=site)
    assert not marker.exists()
    assert pressroom_ok("shell", "--no-imports", "-c", script, env=site).strip() == "''"


def test_a_restored_copys_marker_keeps_its_name_across_releases(tmp_path):
    # A copy restored before an upgrade (or a rollback) must stay isolated after it: the marker
    # is named by the database as DATABASE_URL gives it (engine, host, port, name), not by the
    # module that runs its backend, which changed once already.
    import hashlib

    site = site_environment(tmp_path / "var")
    name = site["DATABASE_URL"].removeprefix("sqlite:///")
    identity = f"django.db.backends.sqlite3|||{name}"
    expected = "restored-copy-" + hashlib.sha256(identity.encode()).hexdigest()[:16]
    marker_script = "from django.conf import settings; print(settings.RESTORED_COPY_FILE)"
    marker = Path(pressroom_ok("shell", "--no-imports", "-c", marker_script, env=site).strip())
    assert marker.name == expected


@pytest.mark.slow
def test_a_waiting_worker_exits_at_go_live_to_restart_with_the_sites_cache_keys(tmp_path):
    """A worker started on a restored copy read the copy's cache key prefix: once the copy goes
    live it exits (systemd starts it again as the site) instead of running tasks under it."""
    import subprocess

    from tests.services import PRESSROOM, REPOSITORY

    site = site_environment(tmp_path / "var")
    pressroom_ok("migrate", "--no-input", env=site)
    marker_script = "from django.conf import settings; print(settings.RESTORED_COPY_FILE)"
    marker = Path(pressroom_ok("shell", "--no-imports", "-c", marker_script, env=site).strip())
    marker.write_text("20261129-abcd\n")
    worker = subprocess.Popen(
        [PRESSROOM, "worker", "--no-scheduler"],
        env=site,
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert worker.stdout is not None
        seen = []
        while "tasks are paused until `pressroom go-live`" not in "".join(seen):
            line = worker.stdout.readline()
            assert line, "".join(seen)  # the worker ended before it said it waits
            seen.append(line)
        assert worker.poll() is None
        pressroom_ok("go-live", env=site)
        assert worker.wait(timeout=60) == 0
        assert "went live: exiting to restart as the site" in worker.stdout.read()
    finally:
        stop(worker)
