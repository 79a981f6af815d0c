"""Bulk MIME and SMTP for the digest: encode once per topic selection, send many.

Building 100,000 messages with the email package and smtplib.sendmail costs more than the
network does. Here a rendered body is quoted-printable encoded once, split around the personal
links (which are QP-safe URLs, inserted per recipient between soft line breaks), and kept both
plain (for DKIM, which signs the message as written) and dot-stuffed (for SMTP DATA). An SMTP
transaction is MAIL, RCPT and DATA pipelined in one write when the server offers PIPELINING
(RFC 2920); a run of messages on one connection also writes the next message's MAIL, RCPT and
DATA right after the previous message's final dot (`Transactions`): one write and one round trip
per message. The result parses cleanly with email.parser and policy.default.
"""

from __future__ import annotations

import re
import smtplib
import uuid
from collections.abc import Callable
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


class RecipientRefused(Exception):
    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code


class MessageRefused(Exception):
    """The server refused the sender or the message (not the recipient)."""


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def transact(
    smtp: smtplib.SMTP,
    sender: str,
    recipient: str,
    stuffed_data: bytes,
    before_data: Callable[[], None] | None = None,
) -> None:
    """One SMTP mail transaction for an already dot-stuffed message (CRLF line ends).

    `before_data` runs once the server is ready for the message, just before it is written: a
    message the server never received whole is not delivered (RFC 5321 4.1.1.4), so what runs
    there (recording the previous message as sent) overlaps this one's round trips yet still
    happens before this message can arrive. An exception from it leaves the transaction
    unfinished, as a crash would.

    Raises RecipientRefused or MessageRefused (the connection stays usable: it was RSET), or
    smtplib.SMTPServerDisconnected / OSError when the connection is gone.
    """
    smtp.ehlo_or_helo_if_needed()
    if smtp.has_extn("pipelining"):
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
        mail = smtp.getreply()
        rcpt = smtp.getreply()
        data = smtp.getreply()
    else:
        mail = smtp.docmd("MAIL", f"FROM:<{sender}>")
        rcpt = smtp.docmd("RCPT", f"TO:<{recipient}>") if mail[0] == 250 else (503, b"")
        data = smtp.docmd("DATA") if rcpt[0] in (250, 251) else (503, b"")
    if mail[0] != 250 or rcpt[0] not in (250, 251):
        if data[0] == 354:  # a server that took DATA anyway: end it empty
            smtp.send(b".\r\n")
            smtp.getreply()
        smtp.rset()
        if mail[0] != 250:
            raise MessageRefused(f"{mail[0]} {_text(mail[1])}")
        raise RecipientRefused(rcpt[0], _text(rcpt[1]))
    if data[0] != 354:
        smtp.rset()
        raise MessageRefused(f"{data[0]} {_text(data[1])}")
    if not stuffed_data.endswith(b"\r\n"):
        stuffed_data += b"\r\n"
    if before_data is not None:
        before_data()
    smtp.send(stuffed_data + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        smtp.rset()
        raise MessageRefused(f"{code} {_text(reply)}")


Reply = tuple[int, bytes]


class Transactions:
    """Mail transactions in a row on one connection, each message's envelope (MAIL, RCPT,
    DATA) written together with the previous message's content when the server offers
    PIPELINING (RFC 2920 allows commands after the end of data in the same group).

    `send()` behaves as `transact()` (a message other than the one announced drops the
    connection, raising SMTPServerDisconnected: the caller opens a new one and sends again): `before_data` runs just before the message's content is
    written (so what it records of the previous message still happens before this one can
    arrive), and a refusal raises RecipientRefused / MessageRefused with the connection ready
    for the next message. `next_recipient`: the address of the message that will follow, whose
    envelope goes out with this one's content. A connection dropped or replaced must be told
    (`forget()`); `open` says whether the server is waiting for a message's content (then the
    connection must be closed without QUIT, which would become part of a message).
    """

    def __init__(self, sender: str) -> None:
        self.sender = sender
        # The envelope already written for the next message: (recipient, its three replies).
        self.waiting: tuple[str, Reply, Reply, Reply] | None = None

    @property
    def open(self) -> bool:
        return self.waiting is not None and self.waiting[3][0] == 354

    def forget(self) -> None:
        self.waiting = None

    def _envelope(self, recipient: str) -> bytes:
        return f"MAIL FROM:<{self.sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii")

    def send(
        self,
        smtp: smtplib.SMTP,
        recipient: str,
        stuffed_data: bytes,
        before_data: Callable[[], None] | None = None,
        next_recipient: str = "",
    ) -> None:
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("pipelining"):
            self.waiting = None
            transact(smtp, self.sender, recipient, stuffed_data, before_data)
            return
        waiting, self.waiting = self.waiting, None
        if waiting is not None and waiting[0] == recipient:
            mail, rcpt, data = waiting[1:]
        else:
            if waiting is not None and waiting[3][0] == 354:
                # Not the message announced: ending it with "." would deliver an empty message
                # to its recipient, and RSET or QUIT would be read as its content. Only a
                # dropped connection makes the server discard it; the caller reconnects.
                smtp.close()
                raise smtplib.SMTPServerDisconnected(
                    f"{waiting[0]} was announced, not {recipient}: connection dropped"
                )
            smtp.send(self._envelope(recipient))
            mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if mail[0] != 250 or rcpt[0] not in (250, 251) or data[0] != 354:
            if data[0] == 354:  # a server that took DATA anyway: end it empty
                smtp.send(b".\r\n")
                smtp.getreply()
            smtp.rset()
            if mail[0] != 250:
                raise MessageRefused(f"{mail[0]} {_text(mail[1])}")
            if rcpt[0] not in (250, 251):
                raise RecipientRefused(rcpt[0], _text(rcpt[1]))
            raise MessageRefused(f"{data[0]} {_text(data[1])}")
        if not stuffed_data.endswith(b"\r\n"):
            stuffed_data += b"\r\n"
        if before_data is not None:
            before_data()
        following = self._envelope(next_recipient) if next_recipient else b""
        smtp.send(stuffed_data + b".\r\n" + following)
        code, reply = smtp.getreply()
        if following:
            # The next envelope's replies come after this message's, whatever it was.
            self.waiting = (next_recipient, smtp.getreply(), smtp.getreply(), smtp.getreply())
        if code != 250:
            # The transaction is over either way (RFC 5321 4.1.1.4): no RSET, which would
            # also undo the next message's envelope.
            raise MessageRefused(f"{code} {_text(reply)}")
