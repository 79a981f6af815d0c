"""Writes of federation on the request path: followers coming and going (an Accept queued
for the worker), instances revived."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from pressroom.federation import documents, signatures
from pressroom.federation.delivery import record_activity
from pressroom.federation.models import SITE_ACTOR, Follower, Instance, topic_actor
from pressroom.federation.tasks import queue_deliveries
from pressroom.publishing.models import Topic


def actor_name_for(object_url: str) -> tuple[str, Topic | None] | None:
    """Our actor at `object_url`: ("site", None), ("topic-<id>", topic), or None."""
    if object_url == documents.actor_url(SITE_ACTOR):
        return SITE_ACTOR, None
    prefix = documents.actor_url("topic-")
    number = object_url.removeprefix(prefix)
    if object_url.startswith(prefix) and re.fullmatch(r"[0-9]{1,11}", number):
        topic = Topic.objects.filter(pk=int(number)).first()
        if topic is not None:
            return topic_actor(topic.pk), topic
    return None


@transaction.atomic
def accept_follow(
    key: signatures.RemoteKey, follow: dict[str, Any], actor: str, topic: Topic | None
) -> Follower:
    """Keep the follower (its inbox and shared inbox) and send it our Accept, signed."""
    inbox = key.inbox or key.owner + "/inbox"
    follower, _ = Follower.objects.update_or_create(
        followed=actor,
        actor_url=key.owner,
        defaults={
            "topic": topic,
            "inbox_url": inbox,
            "shared_inbox_url": key.shared_inbox,
            # Deliveries (and the dead-instance bookkeeping) are keyed on where they go.
            "domain": signatures.domain_of(key.shared_inbox or inbox),
            "follow_activity_id": str(follow.get("id", ""))[:500],
            "public_key_pem": key.pem,
        },
    )
    # The Accept names the Follow by what identifies it, not by its whole body (up to
    # FEDERATION_MAX_BODY_BYTES, kept with the activity for every retry).
    target = follow.get("object")
    accepted = {
        "id": str(follow.get("id", ""))[:500],
        "type": "Follow",
        "actor": key.owner,
        "object": target.get("id") if isinstance(target, dict) else target,
    }
    queue_deliveries(
        record_activity(
            "Accept",
            actor,
            accepted,
            {inbox: follower.domain},
            to=[key.owner],
            cc=[],
        )
    )
    return follower


def undo_follow(owner: str, follow: Any) -> int:
    """Forget the follow that `follow` (the Follow, or its id) made; how many were dropped."""
    followers = Follower.objects.filter(actor_url=owner)
    if isinstance(follow, dict):
        found = actor_name_for(str(follow.get("object", ""))[:500])
        if found is not None:
            followers = followers.filter(followed=found[0])
        elif follow.get("id"):
            followers = followers.filter(follow_activity_id=str(follow["id"])[:500])
        else:
            return 0  # a Follow naming neither whom nor which: nothing to forget
    elif isinstance(follow, str) and follow:
        followers = followers.filter(follow_activity_id=follow[:500])
    else:
        return 0
    deleted, _ = followers.delete()
    return deleted


def drop_remote_actor(owner: str) -> int:
    deleted, _ = Follower.objects.filter(actor_url=owner).delete()
    return deleted


def revive_instance(domain: str) -> bool:
    """An instance that posts to us (or that an operator revives) gets deliveries again."""
    return bool(
        Instance.objects.filter(domain=domain, dead_since__isnull=False).update(
            dead_since=None, failing_since=None
        )
    )
