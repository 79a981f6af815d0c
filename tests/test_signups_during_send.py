"""Signups keep working while a send's segment is written (issue 16, point 5).

A real `pressroom worker` writes the Daily Digest's deliveries for 30,000 readers into a SQLite
file, in committed chunks, while readers sign up through a real `pressroom serve` on the same
file: every signup is answered (none gets the "database busy" page) and kept, signups come in
between the chunks (a fan-out holding one long transaction would show none), and every reader
who was on the list gets a delivery. How long a signup waits at most is a figure of
`python -m bench digest` at a million readers.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller

from tests.servers import (
    PRESSROOM,
    REPOSITORY,
    free_port,
    prepare_site,
    pressroom,
    serving,
    site_env,
    stop,
)

pytestmark = pytest.mark.slow

READERS = 30_000

SEED = f"""
from django.utils import timezone
from pressroom.newsletter.models import Subscriber
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
topic = services.save_topic(Topic(name="Peru"))
now = timezone.now()
for n in range(3):
    services.save_article(
        Article(title=f"Miners march on Lima, day {{n}}", body="<p>They marched.</p>",
                status="published", published_at=now - timezone.timedelta(minutes=5 + n)),
        topics=[topic], authors=[],
    )
Subscriber.objects.bulk_create(
    (Subscriber(email=f"reader{{n}}@example.org", status="confirmed", consented_at=now)
     for n in range({READERS})),
    batch_size=5000,
)
"""

QUEUE_THE_DIGEST = (
    "from pressroom.newsletter.tasks import send_daily_digest; send_daily_digest.enqueue()"
)


class Discard:
    """An SMTP server that accepts every message and keeps none (the sending is not tested here)."""

    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 OK"


def sign_up(base: str, address: str) -> int:
    """The signup form as a reader's browser posts it; the status, redirects not followed."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *arguments, **keywords) -> None:
            return None

    request = urllib.request.Request(  # noqa: S310 (loopback)
        base + "/digest/", data=urlencode({"email": address}).encode(), method="POST"
    )
    try:
        with urllib.request.build_opener(Stay).open(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as answer:
        return answer.code


def fan_out_progress(database: sqlite3.Connection) -> tuple[int, bool]:
    """(delivery rows written so far, whether the digest's fan-out has finished)."""
    written = database.execute("SELECT count(*) FROM newsletter_delivery").fetchone()[0]
    finished = database.execute(
        "SELECT count(*) FROM newsletter_digest WHERE is_fanned_out"
    ).fetchone()[0]
    return written, bool(finished)


def test_readers_sign_up_while_a_worker_writes_a_large_segment(tmp_path):
    with contextlib.ExitStack() as cleanup:
        smtp = Controller(Discard(), hostname="127.0.0.1", port=free_port())
        smtp.start()
        cleanup.callback(smtp.stop)
        env = site_env(
            tmp_path,
            # 50 rows a chunk: many commits, so the test sees the fan-out between two of them.
            DIGEST_BATCH_SIZE="5",
            DIGEST_SIGNUPS_PER_IP_PER_HOUR="10000",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp.port),
            LOG_LEVEL="WARNING",
        )
        prepare_site(env, articles=3)
        pressroom("shell", "-c", SEED, env=env)
        worker_log = cleanup.enter_context((tmp_path / "worker.log").open("w"))
        worker = subprocess.Popen(
            [PRESSROOM, "worker", "--no-scheduler", "--interval", "0.1"],
            env=env,
            cwd=REPOSITORY,
            stdout=subprocess.DEVNULL,
            stderr=worker_log,
        )
        cleanup.callback(stop, worker, 30)  # it finishes its task first
        database = cleanup.enter_context(
            contextlib.closing(sqlite3.connect(tmp_path / "pressroom.sqlite3", timeout=30))
        )
        with serving(env) as base:
            pressroom("shell", "-c", QUEUE_THE_DIGEST, env=env)
            answers: list[int] = []
            during = 0  # signups made wholly while the segment was being written
            deadline = time.monotonic() + 300
            while True:
                written_before, finished = fan_out_progress(database)
                if finished:
                    break
                assert time.monotonic() < deadline, "the fan-out did not finish"
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                answers.append(sign_up(base, f"new-reader{len(answers)}@example.org"))
                _, finished = fan_out_progress(database)
                during += written_before > 0 and not finished

        assert during >= 3, f"only {during} signups came while the segment was being written"
        assert set(answers) == {302}, answers
        signed_up = database.execute(
            "SELECT count(*) FROM newsletter_subscriber WHERE email LIKE 'new-reader%'"
        ).fetchone()[0]
        assert signed_up == len(answers)
        # Every reader confirmed before the send has a delivery; the new ones wait to confirm.
        delivered_to = database.execute(
            "SELECT count(DISTINCT subscriber_id) FROM newsletter_delivery"
        ).fetchone()[0]
        assert delivered_to == READERS
