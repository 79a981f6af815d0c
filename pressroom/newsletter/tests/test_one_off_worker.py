"""One-off sends through real `pressroom worker` processes and a real SMTP server: a scheduled
send goes out at its time, and a worker SIGKILLed mid-send loses nobody (the digest's crash
test, test_worker_crash.py, run on a one-off send: same ledger, same recovery)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from pressroom.newsletter.tests.test_worker_crash import (
    SEED,
    SUBSCRIBERS,
    Pressroom,
    _kill_mid_send_and_take_over,
    _wait_for,
)

START = """
from datetime import timedelta
from django.utils import timezone
from pressroom.newsletter import services
from pressroom.newsletter.models import OneOffEmail
now = timezone.now()
send = OneOffEmail.objects.create(
    kind="appeal", subject="Keep us independent", status="draft",
    body='<p>Please <a href="https://news.example.org/donate/">give</a>.</p>',
    date=now.date(), covers_from=now, covers_until=now,
)
services.start_send(send.pk, now + timedelta(seconds={delay}) if {delay} else None)
print(send.pk, (now + timedelta(seconds={delay})).timestamp())
"""


def queue_one_off(pressroom: Pressroom, delay: int) -> tuple[int, float]:
    pressroom.run("migrate", "--no-input", "-v0")
    pressroom.run("shell", "-c", SEED)
    out = pressroom.run("shell", "-c", START.format(delay=delay)).stdout.split()
    return int(out[-2]), float(out[-1])  # after the shell's own messages


@pytest.mark.slow
def test_a_scheduled_send_goes_out_at_its_time_from_the_worker(tmp_path):
    pressroom = Pressroom(tmp_path, batch_size=25, connections=1)
    pressroom.sink.delay = 0
    try:
        send_id, send_at = queue_one_off(pressroom, delay=8)
        pressroom.start_worker()
        # Before its time the worker is up and sends nothing.
        while time.time() < send_at - 1.5:
            assert pressroom.received() == 0
            time.sleep(0.2)
        _wait_for(pressroom.finished, 60, "the send to finish")
        first_sent = pressroom.query(
            "SELECT min(sent_at) FROM newsletter_delivery WHERE state = 'sent'"
        )[0][0]
        print(
            f"\nscheduled at {send_at:.1f}; everything received {time.time() - send_at:.1f} s after"
        )
    finally:
        pressroom.stop()
    pressroom.drop_database()
    received = Counter(r for m in pressroom.sink.messages for r in m.recipients)
    assert set(received) == {f"reader{n}@example.org" for n in range(SUBSCRIBERS)}
    assert max(received.values()) == 1
    assert all(m.message["List-Unsubscribe-Post"] for m in pressroom.sink.messages)
    assert all(f"ref=email-{send_id}" in m.text for m in pressroom.sink.messages)
    # No message left before its time (the database's clock is this machine's).
    if isinstance(first_sent, str):  # SQLite: an ISO text in UTC
        first_sent = datetime.fromisoformat(first_sent).replace(tzinfo=UTC)
    assert first_sent.timestamp() >= send_at


@pytest.mark.slow
def test_a_worker_killed_mid_send_of_an_appeal_loses_nobody(tmp_path):
    pressroom = Pressroom(tmp_path, batch_size=SUBSCRIBERS, connections=1)
    try:
        queue_one_off(pressroom, delay=0)
        pressroom.start_worker()
        pressroom.start_worker()
        received = _kill_mid_send_and_take_over(pressroom, connections=1)
    finally:
        pressroom.stop()
    pressroom.drop_database()
    assert len(received) == SUBSCRIBERS
