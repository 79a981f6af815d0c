"""The one module that renders and sends template-folder emails.

Each email is a template folder holding subject.txt, body.txt and body.html. `render_email` turns
one into (subject, text, html); `send_email` renders and sends it through a Django 6.1 mailer.
Plain-text parts and subjects are rendered without HTML autoescaping (an ampersand in a title
stays an ampersand); the HTML part is autoescaped as usual.

When DKIM_PRIVATE_KEY_PATH, DKIM_SELECTOR and DKIM_DOMAIN are set, messages sent over SMTP carry
a DKIM signature (`dkim_sign`); ESPs reached through django-anymail sign on their side.
"""

from __future__ import annotations

import email.policy
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dkim
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.template import Context
from django.template.loader import get_template

# Headers a DKIM signature covers: the ones a reader sees and the ones RFC 8058 requires signed.
DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


# Functions giving values every email may use, registered by apps (the site settings give the
# name and postal address editors set in the admin): lib knows no app.
_context_providers: list[Callable[[], Mapping[str, Any]]] = []


def register_email_context(provider: Callable[[], Mapping[str, Any]]) -> None:
    """`provider()` is merged into every email's context (after the environment's values)."""
    if provider not in _context_providers:
        _context_providers.append(provider)


def base_context() -> dict[str, Any]:
    """What every email may use: the site's name and address and the sender's postal address."""
    context: dict[str, Any] = {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        "ORGANIZATION_NAME": settings.ORGANIZATION_NAME,
        "ORGANIZATION_ADDRESS": settings.ORGANIZATION_ADDRESS,
    }
    for provider in _context_providers:
        context.update(provider())
    return context


def _render_plain(template_name: str, context: Mapping[str, Any]) -> str:
    # The engine's own Template, not the backend wrapper, so that autoescape can be turned off.
    template = get_template(template_name).template  # type: ignore[attr-defined]
    return template.render(Context(dict(context), autoescape=False))


def render_email(template_dir: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Render a template folder into (subject, plain text body, HTML body)."""
    full_context = {**base_context(), **context}
    # A subject is one line whatever the template's whitespace.
    subject = " ".join(_render_plain(f"{template_dir}/subject.txt", full_context).split())
    text = _render_plain(f"{template_dir}/body.txt", full_context)
    html = get_template(f"{template_dir}/body.html").render(full_context)
    return subject, text, html


@functools.cache
def _dkim_key() -> bytes | None:
    path = settings.DKIM_PRIVATE_KEY_PATH
    if not path:
        return None
    if not (settings.DKIM_SELECTOR and settings.DKIM_DOMAIN):
        raise ImproperlyConfigured(
            "DKIM_PRIVATE_KEY_PATH is set, so DKIM_SELECTOR and DKIM_DOMAIN must be set too."
        )
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ImproperlyConfigured(
            f"DKIM_PRIVATE_KEY_PATH {path!r} cannot be read: {error}"
        ) from None


def dkim_enabled() -> bool:
    return _dkim_key() is not None


def dkim_signature(raw_message: bytes) -> bytes:
    """The DKIM-Signature header line (with CRLF) for a message, or b"" when DKIM is off."""
    key = _dkim_key()
    if key is None:
        return b""
    return dkim.sign(
        raw_message,
        settings.DKIM_SELECTOR.encode(),
        settings.DKIM_DOMAIN.encode(),
        key,
        include_headers=list(DKIM_HEADERS),
    )


def dkim_sign(raw_message: bytes) -> bytes:
    """The message with a DKIM-Signature header prepended (unchanged when DKIM is off)."""
    return dkim_signature(raw_message) + raw_message


class _SignedEmail(EmailMultiAlternatives):
    """An email that prepends a DKIM signature computed on the exact bytes SMTP will send."""

    def message(self, *, policy: email.policy.Policy = email.policy.default):  # type: ignore[override]
        message = super().message(policy=policy)
        signature = dkim_signature(message.as_bytes(policy=email.policy.SMTP))
        if signature:
            name, _, value = signature.decode().partition(":")
            # The signature goes first; its folded value is kept as dkimpy wrote it.
            message._headers.insert(  # type: ignore[attr-defined]
                0, (name, value.strip().replace("\r\n", "\n").replace("\n", "\r\n"))
            )
        return message


def build_email(
    to: str | list[str],
    template_dir: str,
    context: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    connection: Any = None,
    from_email: str | None = None,
) -> EmailMultiAlternatives:
    """An email ready to send: both bodies rendered, DKIM-signed at send time over SMTP."""
    subject, text, html = render_email(template_dir, context)
    message_class = (
        _SignedEmail
        if dkim_enabled() and (connection is None or isinstance(connection, SMTPBackend))
        else EmailMultiAlternatives
    )
    message = message_class(
        subject=subject,
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=[to] if isinstance(to, str) else list(to),
        headers=dict(headers or {}),
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message


def send_email(
    to: str | list[str],
    template_dir: str,
    context: Mapping[str, Any],
    *,
    mailer: str = "default",
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    """Render a template folder and send it through `mailer`; returns the sent message."""
    connection = mailers[mailer]
    message = build_email(to, template_dir, context, headers=headers, connection=connection)
    message.send()
    return message
