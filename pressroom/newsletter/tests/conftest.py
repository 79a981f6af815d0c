"""A real SMTP server (aiosmtpd) on loopback, and readers at various stages of subscription."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from pressroom.newsletter import digests, fanout
from pressroom.newsletter.models import Digest, Subscriber
from tests.ports import free_port

logging.getLogger("mail.log").setLevel(logging.WARNING)


def build_digest(now: datetime | None = None) -> tuple[Digest | None, bool]:
    """Today's digest with all its delivery rows, queueing nothing: the test sends the batches
    itself (`sending.send_all_batches`)."""
    digest, created = digests.create_digest(now)
    if digest is not None:
        list(fanout.fan_out(digest.pk))  # every chunk written; the batches go nowhere
    return digest, created


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()


@dataclass
class MailSink:
    """What the SMTP server received; `refuse` maps addresses to 5xx/4xx refusals."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    pipelining: bool = False  # advertise RFC 2920 PIPELINING, as Postfix does
    sessions: int = 0  # EHLOs: connections the sender opened
    quits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.quits += 1
        return "221 Bye"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), message, envelope.original_content
                )
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]


def start_smtp_server(sink: MailSink, **smtp_options: object) -> tuple[Controller, int]:
    """`smtp_options` go to aiosmtpd's SMTP (`timeout`: how long it keeps an idle client)."""
    for _ in range(5):
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port, **smtp_options)
        try:
            controller.start()
        except OSError:
            continue
        return controller, port
    raise RuntimeError("could not start the SMTP server")


def smtp_mailers(port: int) -> dict:
    options = {"host": "127.0.0.1", "port": port, "timeout": 10}
    backend = "django.core.mail.backends.smtp.EmailBackend"
    return {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "bulk": {"BACKEND": backend, "OPTIONS": options},
    }


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that both mailers send to."""
    sink = MailSink()
    controller, port = start_smtp_server(sink)
    settings.MAILERS = smtp_mailers(port)
    sink.port = port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


def run_worker() -> None:
    """The real task worker, in batch mode: runs what is queued (signup emails), then returns."""
    from django.core.management import call_command

    call_command("worker", batch=True, verbosity=0)


def path_of(url: str) -> str:
    """The path of a link from a received message, for the Django test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def make_subscriber(db):
    def make(email: str = "rosa@example.org", *, status: str = "confirmed", topics=None, **fields):
        subscriber = Subscriber.objects.create(
            email=email, status=status, all_topics=not topics, **fields
        )
        if topics:
            subscriber.topics.set(topics)
        return subscriber

    return make


@pytest.fixture
def reader(make_subscriber) -> Subscriber:
    """Rosa, a confirmed subscriber who gets every article."""
    return make_subscriber("rosa@example.org")
