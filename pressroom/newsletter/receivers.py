"""Reactions to other apps: bounce and complaint reports from the ESP (django-anymail's tracking
webhooks), and each worker heartbeat, on which a dead worker's digest batches are taken over and
the SMTP connections left idle since the last batch are closed."""

from __future__ import annotations

import logging

from anymail.signals import AnymailTrackingEvent, EventType, tracking
from django.dispatch import receiver

from pressroom.newsletter import services, smtp_pool
from pressroom.newsletter.models import Subscriber
from pressroom.workers.heartbeat import heartbeat

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


@receiver(heartbeat, dispatch_uid="newsletter-release-dead-claims")
def take_over_dead_workers_batches(sender: object, **kwargs: object) -> None:
    if not kwargs.get("database", True):  # the database is out of reach: the next beat
        return
    from pressroom.newsletter import recovery
    from pressroom.newsletter.tasks import queue_batches

    result = recovery.release_dead_claims()
    if result.batches:
        queue_batches(result.batches)
        logger.warning(
            "A worker stopped: batches %s queued again (%s rows to send, %s given up)",
            result.batches,
            result.requeued_rows,
            result.given_up_rows,
        )


@receiver(heartbeat, dispatch_uid="newsletter-close-idle-smtp")
def close_idle_smtp_connections(sender: object, **kwargs: object) -> None:
    smtp_pool.close_idle()
