"""Bulk MIME and SMTP for the digest: encode once per topic selection, send many.

Building 100,000 messages with the email package and smtplib.sendmail costs more than the
network does. Here a rendered body is quoted-printable encoded once, split around the personal
links (which are QP-safe URLs, inserted per recipient between soft line breaks), and kept both
plain (for DKIM, which signs the message as written) and dot-stuffed (for SMTP DATA). An SMTP
transaction is MAIL, RCPT and DATA pipelined in one write when the server offers PIPELINING
(RFC 2920); a run of messages on one connection also writes the next message's MAIL, RCPT and
DATA right after the previous message's final dot: one write and one round trip per message
(`Conversation` carries the commands and replies; `sending` decides what to say). The result
parses cleanly with email.parser and policy.default.
"""

from __future__ import annotations

import re
import smtplib
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email import quoprimime
from email.header import Header
from email.utils import format_datetime

from django.utils import timezone

QP_LINE = 75  # one below RFC 2045's 76, leaving room for the soft break after a segment
URL_CHUNK = 70
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")
_PART_HEAD = (
    'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)


def _stuff(data: bytes) -> bytes:
    """SMTP transparency (RFC 5321 4.5.2): a line starting with a dot gets another one."""
    return _DOT_AT_LINE_START.sub(b"..", data)


def _encode_segment(text: str) -> bytes:
    return quoprimime.body_encode(
        text.encode("utf-8").decode("latin-1"), maxlinelen=QP_LINE, eol="\r\n"
    ).encode("ascii")


def _encode_url(url: str) -> tuple[bytes, bytes]:
    """A personal URL as QP lines, each ending in a soft break: (plain, dot-stuffed)."""
    if not url.isascii() or "=" in url:
        plain = _encode_segment(url) + b"=\r\n"
        return plain, _stuff(plain)
    chunks = [url[i : i + URL_CHUNK] for i in range(0, len(url), URL_CHUNK)]
    plain = "".join(f"{chunk}=\r\n" for chunk in chunks).encode("ascii")
    if not any(chunk.startswith(".") for chunk in chunks):
        return plain, plain
    return plain, _stuff(plain)


class PreparedPart:
    """One text/* part, encoded once, with slots for personal links."""

    def __init__(self, subtype: str, body: str, markers: tuple[str, ...]) -> None:
        self.head = _PART_HEAD.format(subtype).encode("ascii")
        pattern = "(" + "|".join(re.escape(marker) for marker in markers) + ")"
        pieces = re.split(pattern, body) if markers else [body]
        self.plain: list[bytes | str] = []
        self.stuffed: list[bytes | str] = []
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if index % 2:  # a marker: the slot for a personal link
                self.plain.append(piece)
                self.stuffed.append(piece)
                continue
            encoded = _encode_segment(piece)
            if index != last and encoded and not encoded.endswith(b"\r\n"):
                encoded += b"=\r\n"  # the link starts on a fresh line; nothing is added
            self.plain.append(encoded)
            self.stuffed.append(_stuff(encoded))

    def render(self, links: dict[str, tuple[bytes, bytes]], *, stuffed: bool) -> bytes:
        index = 1 if stuffed else 0
        pieces = self.stuffed if stuffed else self.plain
        return b"".join(
            piece if isinstance(piece, bytes) else links[piece][index] for piece in pieces
        )


_date_header: tuple[int, bytes] = (0, b"")


def date_header() -> bytes:
    """The Date header of a message written now, made once a second (not once a message)."""
    global _date_header
    now = timezone.now()
    second = int(now.timestamp())
    cached_second, cached = _date_header
    if second != cached_second:
        cached = header("Date", format_datetime(now.replace(microsecond=0)))
        _date_header = (second, cached)
    return cached


@dataclass(frozen=True)
class PreparedMessage:
    """A digest for one topic selection: everything but the recipient and personal links."""

    subject_header: bytes
    text: PreparedPart
    html: PreparedPart
    # One multipart boundary for every copy: it starts with "=_", which quoted-printable
    # parts can never contain ("=" is always "=3D" or a soft break there), so no copy's body
    # can end a part early; and no random bytes are drawn per message.
    boundary: bytes = b""

    @classmethod
    def build(cls, subject: str, text: str, html: str, markers: tuple[str, ...]) -> PreparedMessage:
        return cls(
            header("Subject", subject),
            PreparedPart("plain", text, markers),
            PreparedPart("html", html, markers),
            f"=_pressroom_{uuid.uuid4().hex}".encode("ascii"),
        )

    def compose(
        self,
        *,
        from_header: bytes,
        to: str,
        headers: dict[str, str],
        links: dict[str, str],
        stuffed: bool,
    ) -> bytes:
        encoded_links = {marker: _encode_url(url) for marker, url in links.items()}
        boundary = self.boundary or f"=_pressroom_{uuid.uuid4().hex}".encode("ascii")
        return b"".join(
            [
                from_header,
                header("To", to),
                self.subject_header,
                date_header(),
                *(header(name, value) for name, value in headers.items()),
                b"MIME-Version: 1.0\r\n",
                b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n',
                b"\r\n--" + boundary + b"\r\n",
                self.text.head,
                self.text.render(encoded_links, stuffed=stuffed),
                b"\r\n--" + boundary + b"\r\n",
                self.html.head,
                self.html.render(encoded_links, stuffed=stuffed),
                b"\r\n--" + boundary + b"--\r\n",
            ]
        )


def header(name: str, value: str) -> bytes:
    value = " ".join(value.split())  # no line breaks smuggled in from a title
    if not value.isascii():
        value = Header(value, "utf-8").encode(linesep="\r\n")
    return f"{name}: {value}\r\n".encode("ascii")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def envelope(sender: str, recipient: str) -> list[bytes]:
    """MAIL, RCPT and DATA for one message, as three command lines."""
    return [
        f"MAIL FROM:<{sender}>\r\n".encode("ascii"),
        f"RCPT TO:<{recipient}>\r\n".encode("ascii"),
        b"DATA\r\n",
    ]


def content(stuffed_data: bytes) -> bytes:
    """A dot-stuffed message with the end of data (CRLF . CRLF) after it."""
    if not stuffed_data.endswith(b"\r\n"):
        stuffed_data += b"\r\n"
    return stuffed_data + b".\r\n"


MAX_REPLY_BYTES = 64 * 1024  # far beyond any real reply; a server sending more is broken
MAX_REPLY_LINES = 100


class Conversation[Tag]:
    """One SMTP connection, driven by a loop that watches many (`sending`): commands are queued
    with a tag, written in one group when the server offers PIPELINING (RFC 2920) or one at a
    time otherwise, and each reply comes back with the tag of the command it answers.

    The connection is opened (and EHLO, STARTTLS and AUTH done) by smtplib beforehand; from then
    on only this reads and writes its socket. Errors are smtplib.SMTPServerDisconnected (the
    server hung up or spoke nonsense) or OSError.
    """

    def __init__(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo_or_helo_if_needed()
        self.smtp = smtp
        self.sock = smtp.sock
        self.pipelining = bool(smtp.has_extn("pipelining"))
        self.queued: deque[tuple[bytes, Tag]] = deque()
        self.awaiting: deque[Tag] = deque()
        self._partial = b""
        self._lines: list[str] = []  # the reply being read, when it spans several lines
        self.broken = ""  # why the server can no longer be understood
        self.opened = time.monotonic()
        self.messages = 0  # transactions ended (the sender counts them)

    @property
    def idle(self) -> bool:
        """Nothing queued and no reply outstanding: QUIT may be sent."""
        return not self.queued and not self.awaiting

    def queue(self, data: bytes, tag: Tag) -> None:
        self.queued.append((data, tag))

    def write(self) -> None:
        """Send what is queued: all of it with PIPELINING, else the next command once the
        previous one is answered."""
        if not self.queued:
            return
        if self.pipelining:
            chunks = []
            while self.queued:
                data, tag = self.queued.popleft()
                chunks.append(data)
                self.awaiting.append(tag)
            self.sock.sendall(b"".join(chunks))
        elif not self.awaiting:
            data, tag = self.queued.popleft()
            self.awaiting.append(tag)
            self.sock.sendall(data)

    def read(self) -> list[tuple[Tag, int, str]]:
        """The replies that have arrived (call when the socket is readable), oldest first.

        Replies before something that is not SMTP still count: they come back, and `broken`
        says what went wrong (the connection is of no further use).
        """
        if self.broken:
            raise smtplib.SMTPServerDisconnected(self.broken)
        data = self.sock.recv(65536)
        if not data:
            raise smtplib.SMTPServerDisconnected("the server closed the connection")
        pending = getattr(self.sock, "pending", None)  # TLS: decrypted bytes already read
        while pending is not None and (more := pending()):
            data += self.sock.recv(more)
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > MAX_REPLY_BYTES:
            raise smtplib.SMTPServerDisconnected("the server sent a line too long for SMTP")
        replies = []
        for raw in lines:
            line = raw.rstrip(b"\r")
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                self.broken = f"not an SMTP reply: {_text(line[:80])!r}"
            elif len(self._lines) >= MAX_REPLY_LINES:
                self.broken = "the server sent a reply of too many lines"
            elif line[3:4] != b"-" and not self.awaiting:
                self.broken = "the server answered a command never sent"
            if self.broken:
                if replies:
                    return replies
                raise smtplib.SMTPServerDisconnected(self.broken)
            self._lines.append(_text(line[4:]))
            if line[3:4] == b"-":
                continue
            replies.append((self.awaiting.popleft(), int(line[:3]), "\n".join(self._lines)))
            self._lines = []
        return replies
