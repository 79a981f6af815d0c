"""Bulk MIME and SMTP for the digest: encode once per topic selection, send many.

Building 100,000 messages with the email package and smtplib.sendmail costs more than the
network does. Here a rendered body is quoted-printable encoded once, split around the personal
links (which are QP-safe URLs, inserted per recipient between soft line breaks), and kept both
plain (for DKIM, which signs the message as written) and dot-stuffed (for SMTP DATA). An SMTP
transaction is MAIL, RCPT and DATA pipelined in one write when the server offers PIPELINING
(RFC 2920). The result parses cleanly with email.parser and policy.default.
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


@dataclass(frozen=True)
class PreparedMessage:
    """A digest for one topic selection: everything but the recipient and personal links."""

    subject_header: bytes
    text: PreparedPart
    html: PreparedPart

    @classmethod
    def build(cls, subject: str, text: str, html: str, markers: tuple[str, ...]) -> PreparedMessage:
        return cls(
            header("Subject", subject),
            PreparedPart("plain", text, markers),
            PreparedPart("html", html, markers),
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
        boundary = f"=_pressroom_{uuid.uuid4().hex}".encode("ascii")
        return b"".join(
            [
                from_header,
                header("To", to),
                self.subject_header,
                header("Date", format_datetime(timezone.now())),
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
