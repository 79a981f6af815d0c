"""Signed links: confirmation (expires), preferences and one-click unsubscribe (never expire).

A token names the subscriber and is signed with SECRET_KEY and a salt per purpose, so a
preferences link cannot be replayed as a confirmation and nobody can forge one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.encoding import force_bytes

CONFIRM_SALT = "pressroom.newsletter.confirm"
PREFERENCES_SALT = "pressroom.newsletter.preferences"
UNSUBSCRIBE_SALT = "pressroom.newsletter.unsubscribe"

_preferences_signer = signing.Signer(salt=PREFERENCES_SALT)
_unsubscribe_signer = signing.Signer(salt=UNSUBSCRIBE_SALT)


class _QuickSigner:
    """Signer(salt).sign() to the byte, without deriving the HMAC key again for every value.

    A send signs two links per recipient; Django's salted_hmac hashes the salt and the secret
    on each call, which was a tenth of a message's CPU. Here the keyed HMAC is made once and
    copied per value (reading links back stays with Django's Signer, fallback keys included).
    """

    def __init__(self, signer: signing.Signer) -> None:
        self.signer = signer
        self.sep = signer.sep
        derived = hashlib.sha256(
            force_bytes(signer.salt) + b"signer" + force_bytes(signer.key)
        ).digest()
        self.keyed = hmac.new(derived, digestmod=hashlib.sha256)

    def sign(self, value: str) -> str:
        mac = self.keyed.copy()
        mac.update(value.encode())
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
        return f"{value}{self.sep}{signature}"


_quick_preferences = _QuickSigner(_preferences_signer)
_quick_unsubscribe = _QuickSigner(_unsubscribe_signer)


class InvalidLink(Exception):
    """A signed link was altered, expired or does not name a subscriber."""


@dataclass(frozen=True)
class ConfirmationRequest:
    subscriber_id: int
    topic_ids: list[int] | None  # None: every topic


def confirmation_token(subscriber_id: int, topic_ids: list[int] | None) -> str:
    # The chosen topics ride in the token: a stranger's signup never changes an existing
    # subscriber's preferences, only the mailbox owner's click does.
    return signing.dumps({"s": subscriber_id, "t": topic_ids}, salt=CONFIRM_SALT, compress=True)


def read_confirmation_token(token: str) -> ConfirmationRequest:
    max_age = timedelta(days=settings.DIGEST_CONFIRMATION_DAYS)
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
        topic_ids = data["t"]
        return ConfirmationRequest(
            subscriber_id=int(data["s"]),
            topic_ids=None if topic_ids is None else [int(i) for i in topic_ids],
        )
    except signing.SignatureExpired:
        raise InvalidLink(
            "This confirmation link has expired. Sign up again to get a new one."
        ) from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink("This confirmation link is not valid.") from None


def preferences_token(subscriber_id: int) -> str:
    return _quick_preferences.sign(str(subscriber_id))


def read_preferences_token(token: str) -> int:
    try:
        return int(_preferences_signer.unsign(token))
    except (signing.BadSignature, ValueError):
        raise InvalidLink("This link is not valid.") from None


def unsubscribe_token(subscriber_id: int, digest_id: int | None = None) -> str:
    return _quick_unsubscribe.sign(f"{subscriber_id}-{digest_id or 0}")


def read_unsubscribe_token(token: str) -> tuple[int, int | None]:
    try:
        subscriber, _, digest = _unsubscribe_signer.unsign(token).partition("-")
        return int(subscriber), (int(digest) or None) if digest else None
    except (signing.BadSignature, ValueError):
        raise InvalidLink("This unsubscribe link is not valid.") from None


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def confirmation_url(subscriber_id: int, topic_ids: list[int] | None) -> str:
    token = confirmation_token(subscriber_id, topic_ids)
    return absolute(reverse("newsletter:confirm", kwargs={"token": token}))


def preferences_url(subscriber_id: int) -> str:
    token = preferences_token(subscriber_id)
    return absolute(reverse("newsletter:preferences", kwargs={"token": token}))


def unsubscribe_url(subscriber_id: int, digest_id: int | None = None) -> str:
    token = unsubscribe_token(subscriber_id, digest_id)
    return absolute(reverse("newsletter:unsubscribe", kwargs={"token": token}))
