"""Worker heartbeats: who is alive, as every worker and `pressroom doctor` see it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.workers import heartbeat
from pressroom.workers.models import WorkerHeartbeat, dead_after, last_worker_heartbeat


@pytest.mark.django_db
def test_a_beat_records_this_process_as_alive_and_a_silent_worker_turns_dead():
    assert last_worker_heartbeat() is None
    heartbeat.beat(force=True)
    me = WorkerHeartbeat.objects.get()
    assert me.worker_id == heartbeat.current_worker_id()
    assert me.pid > 0
    assert me.hostname
    assert list(WorkerHeartbeat.objects.alive()) == [me]

    WorkerHeartbeat.objects.update(seen_at=timezone.now() - dead_after() - timedelta(seconds=1))
    assert not WorkerHeartbeat.objects.alive().exists()
    assert list(WorkerHeartbeat.objects.dead()) == [me]
    heartbeat.beat(force=True)  # the same row comes back to life
    assert WorkerHeartbeat.objects.alive().count() == 1
    assert WorkerHeartbeat.objects.count() == 1


@pytest.mark.django_db
def test_last_heartbeat_is_the_newest_of_all_workers_and_a_clean_stop_removes_the_row():
    old = timezone.now() - timedelta(minutes=5)
    WorkerHeartbeat.objects.create(worker_id="elsewhere")
    WorkerHeartbeat.objects.filter(worker_id="elsewhere").update(seen_at=old)
    assert abs(last_worker_heartbeat() - old) < timedelta(seconds=1)
    heartbeat.beat(force=True)
    assert timezone.now() - last_worker_heartbeat() < timedelta(seconds=5)

    heartbeat.stop()
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["elsewhere"]


@pytest.mark.django_db
def test_rows_of_workers_silent_for_a_day_are_forgotten():
    WorkerHeartbeat.objects.create(worker_id="long-gone")
    WorkerHeartbeat.objects.create(worker_id="recent")
    WorkerHeartbeat.objects.filter(worker_id="long-gone").update(
        seen_at=timezone.now() - timedelta(days=2)
    )
    assert heartbeat.forget_dead_workers() == 1
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["recent"]


def test_the_default_interval_presumes_a_worker_dead_after_ten_seconds(settings):
    assert settings.WORKER_HEARTBEAT_INTERVAL == 3
    assert dead_after() == timedelta(seconds=10)


def test_a_worker_id_fits_django_tasks_db_and_names_host_and_process():
    import os

    worker_id = heartbeat.current_worker_id()
    assert len(worker_id) <= 64
    assert f":{os.getpid()}:" in worker_id


@pytest.mark.parametrize("value", ["0", "-1", "600", "often"])
def test_a_heartbeat_interval_out_of_range_stops_start_up_with_one_line(value):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "pressroom.settings",
            "SECRET_KEY": "k3J9-vQ2_xL7pR4tY8wZ1nB6mC5dF0gH2jK4lS7aE9uI3oP6qW8rT1yU5",
            "WORKER_HEARTBEAT_INTERVAL": value,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "WORKER_HEARTBEAT_INTERVAL must be" in result.stderr


def test_the_heartbeat_is_sent_through_a_database_outage_marked_as_such(monkeypatch, settings):
    """A beat that cannot reach the database still sends `heartbeat` (idle SMTP connections are
    closed on it), with database=False so that receivers needing the database wait."""
    import threading

    from django.db import OperationalError

    from pressroom.workers import heartbeat as module

    settings.WORKER_HEARTBEAT_INTERVAL = 0.3
    heard: list[dict] = []
    sent = threading.Event()

    def outage(force: bool = False) -> bool:
        raise OperationalError("the database is down")

    def listen(sender: object, **kwargs: object) -> None:
        heard.append(kwargs)
        sent.set()

    monkeypatch.setattr(module, "beat", outage)
    module.heartbeat.connect(listen, dispatch_uid="test-outage-listener")
    thread = module.HeartbeatThread()
    try:
        thread.start()
        assert sent.wait(5), "the heartbeat was sent"
    finally:
        thread.stopping.set()
        thread.join(5)
        module.heartbeat.disconnect(dispatch_uid="test-outage-listener")
    assert heard[0]["database"] is False
