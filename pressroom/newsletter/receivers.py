"""Bounce and complaint reports from the ESP, through django-anymail's tracking webhooks."""

from __future__ import annotations

import logging

from anymail.signals import AnymailTrackingEvent, EventType, tracking
from django.dispatch import receiver

from pressroom.newsletter import services
from pressroom.newsletter.models import Subscriber

logger = logging.getLogger(__name__)

SUPPRESSING_EVENTS = {
    EventType.BOUNCED: Subscriber.Status.BOUNCED,
    EventType.COMPLAINED: Subscriber.Status.COMPLAINED,
}


@receiver(tracking, dispatch_uid="newsletter-suppress-on-bounce")
def suppress_on_bounce_or_complaint(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: object
) -> None:
    status = SUPPRESSING_EVENTS.get(event.event_type)
    if status is None:
        return
    reason = f"{esp_name} {event.event_type}: {event.description or event.mta_response or ''}"
    subscriber = services.suppress_address(
        event.recipient or "", status, reason.strip(), message_id=event.message_id or ""
    )
    if subscriber is None:
        logger.info("%s for an address not on the list: %s", event.event_type, event.recipient)
