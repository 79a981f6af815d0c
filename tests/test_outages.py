"""Outages without 500s: the real Redis and the real PostgreSQL stop under a running site.

- Redis down: pages render from the database, the public forms work, and the log gets one line
  a minute, not one per request.
- Redis restarted from an old snapshot: no reader gets a page older than one already served.
- PostgreSQL down: cached pages are still served, the rest is a branded 503 with Retry-After
  (never a 500), and the worker waits for the database and carries on.
"""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.services import (
    PRESSROOM,
    REPOSITORY,
    PostgresCluster,
    RedisServer,
    get,
    pressroom_ok,
    serve,
    site_environment,
    stop,
)

COUNT_READY_TASKS = (
    "from django_tasks_db.models import DBTaskResult; "
    "print(DBTaskResult.objects.filter(status='READY').count())"
)
ENQUEUE_A_TASK = (
    "from pressroom.newsletter.tasks import recover_deliveries; recover_deliveries.enqueue()"
)


class Browser:
    """A reader's browser: keeps cookies, posts forms with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)  # noqa: S310 (loopback)
        if body is not None:
            request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def submit(self, path: str, fields: dict[str, str]) -> int:
        """GET the page, fill its form (with the CSRF token, if any) and POST it."""
        status, html = self.request(path)
        assert status == 200, (path, status)
        action = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        data = {**fields, **({"csrfmiddlewaretoken": token.group(1)} if token else {})}
        return self.request(action.group(1) if action else path, data)[0]


def _read_log(process: subprocess.Popen) -> str:
    stop(process)
    return process.stdout.read() if process.stdout else ""


@pytest.mark.slow
def test_with_redis_down_pages_and_public_forms_work_and_the_log_gets_one_line(tmp_path):
    redis = RedisServer().start()
    site = site_environment(
        tmp_path / "var",
        CACHE_URL=redis.url,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        DIGEST_SIGNUPS_PER_IP_PER_HOUR="100",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
    )
    server = None
    try:
        if "STATIC_ROOT" in site:
            pressroom_ok("collectstatic", "--no-input", "-v0", env=site)
        pressroom_ok("migrate", "--no-input", env=site)
        pressroom_ok("demo", "--articles", "10", "--topics", "3", env=site)
        server, base = serve(site)
        assert get(base + "/")[0] == 200

        redis.stop()
        reader = Browser(base)
        for number in range(5):
            for path in ("/", "/topics/peru/", "/digest/"):
                status, _ = reader.request(path)
                assert status == 200, (path, status)
            signup = reader.submit("/", {"email": f"reader{number}@example.org", "website": ""})
            assert signup in {200, 302}, signup
            portal = reader.submit("/donate/manage/", {"email": f"donor{number}@example.org"})
            assert portal in {200, 302}, portal
        assert "Peru" in reader.request("/topics/peru/")[1]
        log = _read_log(server)
        server = None
        assert "Internal Server Error" not in log
        assert "Traceback" not in log
        assert log.count("Redis is unreachable") == 1, log
    finally:
        if server is not None:
            stop(server)
        redis.stop()


@pytest.mark.django_db(transaction=True)  # the page cache hears of a change on commit
def test_redis_restarted_from_an_old_snapshot_never_serves_older_pages(
    make_article, reader_client, settings, tmp_path
):
    from pressroom.lib.pagecache.memo import forget_memos
    from pressroom.lib.pagecache.pages import forget_memory

    snapshots = tmp_path / "redis"
    snapshots.mkdir()
    redis = RedisServer(directory=snapshots).start()
    try:
        settings.CACHES = {
            "default": {"BACKEND": "pressroom.lib.cache.ResilientRedisCache", "LOCATION": redis.url}
        }
        make_article(title="Miners march on Lima")
        assert "Miners march on Lima" in reader_client.get("/").content.decode()
        redis.snapshot()  # Redis's default: snapshots now and then, this one before the news

        make_article(title="Teachers strike in Cusco")
        served = reader_client.get("/").content.decode()
        assert "Teachers strike in Cusco" in served

        redis.stop()
        redis.start()  # loads the old snapshot: the old generation and the page filed under it
        forget_memory()
        forget_memos()
        for _ in range(3):
            page = reader_client.get("/").content.decode()
            assert "Teachers strike in Cusco" in page, "an older home page came back"
    finally:
        redis.stop()


@pytest.fixture
def postgres() -> PostgresCluster:
    # Not under pytest's private temporary directory: the postgres user has to reach it.
    directory = Path(tempfile.mkdtemp(prefix="pressroom-outage-pg-"))
    directory.chmod(0o755)
    cluster = PostgresCluster(directory / "cluster")
    try:
        yield cluster.create()
    finally:
        cluster.destroy()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
def test_with_postgresql_down_readers_get_cached_pages_or_a_503_and_the_worker_waits(
    tmp_path, postgres
):
    site = site_environment(
        tmp_path / "var", DATABASE_URL=postgres.url, ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="INFO"
    )
    processes: list[subprocess.Popen] = []
    try:
        if "STATIC_ROOT" in site:
            pressroom_ok("collectstatic", "--no-input", "-v0", env=site)
        pressroom_ok("migrate", "--no-input", env=site)
        pressroom_ok("demo", "--articles", "10", "--topics", "3", env=site)
        server, base = serve(site)
        processes.append(server)
        worker = subprocess.Popen(
            [PRESSROOM, "worker", "--no-scheduler", "--interval", "0.2"],
            env=site,
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        processes.append(worker)
        assert worker.stdout is not None
        started = ""
        while "Starting worker" not in started:  # up before the database goes
            line = worker.stdout.readline()
            assert line, started
            started += line
        cached = get(base + "/")
        assert cached[0] == 200

        postgres.stop()
        for _ in range(5):
            status, _, html = get(base + "/")
            assert status == 200  # from the page cache
            assert html == cached[2]
            status, headers, html = get(base + "/topics/")  # never rendered: not cached
            assert status == 503, status
            assert headers["Retry-After"] == "30"
            assert "Back in a moment" in html
            assert "Pressroom News" in html  # the site's own page, not a proxy's
        time.sleep(3)
        if worker.poll() is not None:
            pytest.fail(f"the worker exited while the database was away:\n{_read_log(worker)}")

        postgres.start()
        assert get(base + "/topics/")[0] == 200
        pressroom_ok("shell", "--no-imports", "-c", ENQUEUE_A_TASK, env=site)
        deadline = time.monotonic() + 30
        while (
            pressroom_ok("shell", "--no-imports", "-c", COUNT_READY_TASKS, env=site).strip() != "0"
        ):
            assert time.monotonic() < deadline, "the worker did not come back to the queue"
            time.sleep(0.5)
        assert worker.poll() is None

        server_log = _read_log(server)
        assert "Traceback" not in server_log
        assert server_log.count("database unreachable, answering 503") == 1, server_log
        worker_log = _read_log(worker)
        assert worker_log.count("the database is unreachable") == 1, worker_log
    finally:
        for process in processes:
            stop(process)
