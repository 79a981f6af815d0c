"""This process's worker id and its heartbeat.

`pressroom worker` starts a thread that refreshes the process's row every
WORKER_HEARTBEAT_INTERVAL seconds and, three times per interval, sends the `heartbeat` signal,
to which apps connect their checks for work held by dead workers (so a dead worker's claims are released even while
every live worker is busy with a long task). Other processes that claim work (`send_digest
--sync`, tests) call `beat()` themselves while they work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models.functions import Now
from django.dispatch import Signal

from pressroom.workers.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Sent by the heartbeat thread after each beat; receivers release what dead workers held.
# `database` is False when the beat could not reach the database (an outage): receivers that
# need it wait for the next beat.
heartbeat = Signal()

# Rows of workers silent for this long are deleted (their claims were released long before).
FORGET_AFTER = timedelta(days=1)

_worker_id = ""
_last_beat = 0.0
_lock = threading.Lock()


def current_worker_id() -> str:
    """This process's worker id: host, pid and a random part (unique even if pids are reused)."""
    global _worker_id
    with _lock:
        if not _worker_id:
            host = socket.gethostname()[:32]
            _worker_id = f"{host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        return _worker_id


def beat(*, force: bool = False) -> bool:
    """Record that this process is alive (at most once per interval unless forced)."""
    global _last_beat
    now = time.monotonic()
    if not force and now - _last_beat < settings.WORKER_HEARTBEAT_INTERVAL:
        return False
    worker_id = current_worker_id()
    # In a transaction of its own: on SQLite a transaction asks for the write lock every
    # millisecond (pressroom/lib/sqlite3), where a statement alone waits with SQLite's busy
    # handler, behind every transaction, while a send commits hundreds of times a second.
    with transaction.atomic():
        beaten = WorkerHeartbeat.objects.filter(worker_id=worker_id).update(seen_at=Now())
    if not beaten:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id,
            defaults={"seen_at": Now()},
            create_defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "seen_at": Now(),
            },
        )
    _last_beat = now
    return True


def stop() -> None:
    """A worker stopping cleanly says so, so what it still holds is released at once."""
    try:
        WorkerHeartbeat.objects.filter(worker_id=current_worker_id()).delete()
    except DatabaseError:
        logger.warning("Could not remove this worker's heartbeat", exc_info=True)


def forget_dead_workers() -> int:
    deleted, _ = WorkerHeartbeat.objects.filter(seen_at__lt=Now() - FORGET_AFTER).delete()
    return deleted


class HeartbeatThread(threading.Thread):
    """Beats every WORKER_HEARTBEAT_INTERVAL seconds until stopped; survives database outages.

    It wakes three times per interval to send `heartbeat`, so what a dead worker held is
    released within a second of that worker being presumed dead.
    """

    def __init__(self) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        tick = settings.WORKER_HEARTBEAT_INTERVAL / 3
        while not self.stopping.is_set():
            started = time.monotonic()
            database = True
            try:
                close_old_connections()
                if beat():
                    forget_dead_workers()
            except DatabaseError:
                logger.warning("Worker heartbeat failed; retrying", exc_info=True)
                connection.close()
                database = False
            # Sent either way: receivers that need no database (closing idle SMTP connections)
            # keep working through an outage; those that do look at `database`.
            heartbeat.send_robust(
                sender=HeartbeatThread, worker_id=current_worker_id(), database=database
            )
            self.stopping.wait(max(0.05, tick - (time.monotonic() - started)))
        connection.close()


def start_heartbeat() -> HeartbeatThread:
    thread = HeartbeatThread()
    beat(force=True)  # the row exists before this process claims anything
    thread.start()
    return thread
