"""The email a signup sends: a confirmation link, or a preferences link for a known reader.

Sent by the worker (newsletter.tasks.send_signup_email), never inside the signup request.
"""

from __future__ import annotations

from django.conf import settings

from pressroom.lib.email import send_email
from pressroom.newsletter import tokens
from pressroom.newsletter.models import Subscriber


def deliver_signup_email(subscriber_id: int, topic_ids: list[int] | None) -> bool:
    """The confirmation link, or the preferences link for a reader already subscribed.

    Run by the send_signup_email task; False when there was nothing to send."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.status in Subscriber.SUPPRESSED_STATUSES:
        return False
    context: dict[str, object]
    if subscriber.status == Subscriber.Status.CONFIRMED:
        template, context = (
            "newsletter/emails/already_subscribed",
            {"preferences_url": tokens.preferences_url(subscriber_id)},
        )
    else:
        template, context = (
            "newsletter/emails/confirm",
            {
                "confirm_url": tokens.confirmation_url(subscriber_id, topic_ids),
                "expires_days": settings.DIGEST_CONFIRMATION_DAYS,
            },
        )
    send_email(subscriber.email, template, context)
    return True
