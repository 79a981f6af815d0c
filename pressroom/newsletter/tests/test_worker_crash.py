"""A real `pressroom worker` is SIGKILLed mid-send; a restarted one finishes the digest.

The worker runs as a subprocess on its own database (a SQLite file, or a PostgreSQL database of
its own when the suite runs on PostgreSQL) and sends to a slow real SMTP server in this process,
so the kill lands while messages are going out.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from pressroom.newsletter.tests.conftest import MailSink, start_smtp_server

SUBSCRIBERS = 60
BATCH_SIZE = 15
PRESSROOM = str(Path(sys.executable).parent / "pressroom")

SEED = f"""
from django.utils import timezone
from pressroom.newsletter.models import Subscriber
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
topic = services.save_topic(Topic(name="Peru"))
services.save_article(
    Article(title="Miners march on Lima", body="<p>Thousands marched.</p>",
            status="published", published_at=timezone.now() - timezone.timedelta(hours=1)),
    topics=[topic], authors=[],
)
Subscriber.objects.bulk_create(
    Subscriber(email=f"reader{{n}}@example.org", status="confirmed") for n in range({SUBSCRIBERS})
)
"""


def _database_url(tmp_path: Path) -> tuple[str, Callable, Callable]:
    """A database only the subprocesses use, a function running SQL on it, and its removal."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        import psycopg

        name = f"{database['NAME']}_crash"
        if name.startswith("test_"):
            name = name.removeprefix("test_")
        conninfo = {
            "host": database["HOST"] or "127.0.0.1",
            "port": database["PORT"] or 5432,
            "user": database["USER"],
            "password": database["PASSWORD"],
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')

        def query(sql: str) -> list[tuple]:
            with psycopg.connect(dbname=name, **conninfo) as connection:
                return connection.execute(sql).fetchall()

        def drop() -> None:
            with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        url = (
            f"postgres://{conninfo['user']}:{conninfo['password']}@{conninfo['host']}:"
            f"{conninfo['port']}/{name}"
        )
        return url, query, drop
    path = tmp_path / "crash.sqlite3"

    def query(sql: str) -> list[tuple]:
        with sqlite3.connect(path, timeout=20) as connection:
            return connection.execute(sql).fetchall()

    return f"sqlite:///{path}", query, lambda: None


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_killed_worker_is_replaced_and_every_reader_gets_the_digest_once_or_in_flight_twice(
    tmp_path,
):
    sink = MailSink(delay=0.08)  # a slow mail server, so the kill lands mid-send
    controller, port = start_smtp_server(sink)
    database_url, query, drop_database = _database_url(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PRESSROOM_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "crash-test-secret-key-crash-test-secret-key",
        "SITE_URL": "https://news.example.org",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "DIGEST_BATCH_SIZE": str(BATCH_SIZE),
        "DIGEST_CLAIM_LEASE": "2",
        "DIGEST_RECOVERY_INTERVAL": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    run = {"env": env, "cwd": tmp_path, "capture_output": True, "text": True, "timeout": 120}
    workers: list[subprocess.Popen] = []
    try:
        subprocess.run([PRESSROOM, "migrate", "--no-input", "-v0"], check=True, **run)
        subprocess.run([PRESSROOM, "shell", "-c", SEED], check=True, **run)
        queued = subprocess.run([PRESSROOM, "send_digest", "--now"], check=True, **run)
        assert f"{SUBSCRIBERS} recipients" in queued.stdout

        def start_worker() -> subprocess.Popen:
            worker = subprocess.Popen(
                [PRESSROOM, "worker", "--interval", "0.1"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / f"worker{len(workers)}.log", "w"),  # noqa: SIM115
            )
            workers.append(worker)
            return worker

        first = start_worker()
        # Kill it in the middle of its second batch.
        _wait_for(lambda: len(sink.messages) >= BATCH_SIZE + 3, 60, "the first messages")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        received_before_kill = len(sink.messages)
        assert received_before_kill < SUBSCRIBERS, "the kill came too late to test anything"
        sending_rows = query("SELECT count(*) FROM newsletter_delivery WHERE state = 'sending'")
        assert sending_rows[0][0] > 0, "the killed worker left no claimed rows"

        start_worker()

        def finished() -> bool:
            status = query("SELECT status FROM newsletter_digest")
            return status == [("sent",)]

        _wait_for(finished, 90, "the restarted worker to finish the digest")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
        controller.stop()

    received = Counter(recipient for m in sink.messages for recipient in m.recipients)
    everyone = {f"reader{n}@example.org" for n in range(SUBSCRIBERS)}
    assert set(received) == everyone, "a reader was lost"
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= BATCH_SIZE, f"{duplicates} duplicates: more than one batch in flight"
    states = dict(query("SELECT state, count(*) FROM newsletter_delivery GROUP BY state"))
    assert states == {"sent": SUBSCRIBERS}
    # A re-sent message keeps its Message-ID, so a mail client can fold the copy away.
    ids = Counter(str(m.message["Message-ID"]) for m in sink.messages)
    assert len(ids) == SUBSCRIBERS
    drop_database()
