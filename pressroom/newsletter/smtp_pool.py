"""SMTP connections a worker keeps open from one digest batch to the next.

A batch ends with each of its connections idle. Closing them and opening new ones for the next
batch cost, per connection and one after another, a QUIT waited for, a connect, the greeting
and an EHLO: py-spy showed a worker waiting in those at every batch end (2 × 16 connections,
a batch every quarter of a second). So a connection that finished its share cleanly waits here
for the next batch sent to the same mail server, for IDLE_SECONDS at most: the heartbeat thread
closes those that waited longer (`close_idle`), well within any server's idle timeout (RFC 5321
asks servers to wait five minutes).

A connection is kept only while it has carried fewer messages than a batch and is younger
than a minute (`worn_out`): before, a connection carried a batch's share at most, and servers
that limit messages per connection (refusing more with a 4xx, or hanging up with a 421) would
otherwise meet that limit in mid-send.

Only the sending loop's thread takes and returns connections; the lock is for the heartbeat
thread, which closes them.
"""

from __future__ import annotations

import select
import threading
import time
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from pressroom.newsletter import rawmail

IDLE_SECONDS = 10.0
MAX_AGE_SECONDS = 60.0

# Beyond DIGEST_SMTP_CONNECTIONS' maximum, a process never needs more idle connections.
MAX_IDLE = 100

# The mail server and the way in: a connection is reused only for the same settings.
ServerKey = tuple[object, ...]


def server_of(backend: SMTPBackend) -> ServerKey:
    return (
        type(backend),
        backend.host,
        backend.port,
        backend.username,
        backend.password,
        backend.use_tls,
        backend.use_ssl,
        backend.ssl_certfile,
        backend.ssl_keyfile,
        backend.timeout,
    )


@dataclass
class IdleConnection:
    server: ServerKey
    backend: SMTPBackend
    conversation: rawmail.Conversation
    since: float


_lock = threading.Lock()
_idle: list[IdleConnection] = []


def take(backend: SMTPBackend) -> IdleConnection | None:
    """An open, idle connection to the server `backend` would connect to, or None.

    A connection the server has meanwhile closed or written to (a 421 before it hangs up) is
    readable: it is closed here, not handed out."""
    server = server_of(backend)
    while True:
        with _lock:
            index = next(
                (i for i in reversed(range(len(_idle))) if _idle[i].server == server), None
            )
            if index is None:
                return None
            idle = _idle.pop(index)
        if time.monotonic() - idle.since <= IDLE_SECONDS and _quiet(idle):
            return idle
        _close(idle)


def worn_out(conversation: rawmail.Conversation) -> bool:
    """Carried a batch's worth of messages, or open for longer than MAX_AGE_SECONDS."""
    return (
        conversation.messages >= settings.DIGEST_BATCH_SIZE
        or time.monotonic() - conversation.opened > MAX_AGE_SECONDS
    )


def give_back(backend: SMTPBackend, conversation: rawmail.Conversation) -> None:
    """Keep an idle connection (nothing queued, no reply awaited) for the next batch."""
    idle = IdleConnection(server_of(backend), backend, conversation, time.monotonic())
    with _lock:
        _idle.append(idle)
        surplus = _idle[:-MAX_IDLE] if len(_idle) > MAX_IDLE else []
        del _idle[: len(surplus)]
    for connection in surplus:
        _close(connection)


def close_idle(older_than: float | None = None) -> int:
    """Close the connections that have waited `older_than` seconds or longer (IDLE_SECONDS by
    default; all of them with 0); returns how many."""
    if older_than is None:
        older_than = IDLE_SECONDS
    now = time.monotonic()
    with _lock:
        expired = [idle for idle in _idle if now - idle.since >= older_than]
        _idle[:] = [idle for idle in _idle if now - idle.since < older_than]
    for idle in expired:
        _close(idle)
    return len(expired)


def idle_count() -> int:
    with _lock:
        return len(_idle)


def _quiet(idle: IdleConnection) -> bool:
    """Nothing to read on an idle connection: the server has neither spoken nor hung up."""
    poll = select.poll()  # not select(): it fails on descriptors past 1023
    try:
        poll.register(idle.conversation.sock, select.POLLIN)
        return not poll.poll(0)
    except (OSError, ValueError):  # closed meanwhile
        return False


def _close(idle: IdleConnection) -> None:
    """QUIT without waiting for the reply (the heartbeat thread must not wait on a server),
    then close: the server sees a clean end of session either way."""
    with suppress(OSError):
        idle.conversation.sock.sendall(b"QUIT\r\n")
    with suppress(OSError):
        idle.conversation.smtp.close()
    idle.backend.connection = None
