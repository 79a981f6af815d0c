"""What followers are told about articles: Create (and each topic's Announce), Update, Delete."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from pressroom.federation import documents
from pressroom.federation.delivery import record_activity
from pressroom.federation.models import (
    SITE_ACTOR,
    Delivery,
    FederatedArticle,
    Follower,
    topic_actor,
)
from pressroom.publishing.models import Article

# An article first seen by federation long after it was published (an import of old articles,
# an archive restored) is recorded without a Create: followers are not flooded with old news.
FRESH_WINDOW = timedelta(days=2)


def _cancel_pending(article_id: int, kinds: tuple[str, ...]) -> None:
    """What is still waiting to be posted about the article and is now out of date is not
    posted: after a Delete, no Create or Update may bring the article back; after an Update,
    an older Update would only be overtaken (a pending Create stays: the Update needs it)."""
    Delivery.objects.filter(
        activity__article_id=article_id,
        activity__kind__in=kinds,
        state=Delivery.State.PENDING,
    ).update(state=Delivery.State.SKIPPED, next_attempt_at=None)


def _site_and_topic_inboxes(topic_ids: Iterable[int]) -> dict[str, str]:
    inboxes = Follower.objects.of_site().delivery_inboxes()
    inboxes.update(Follower.objects.of_topics(list(topic_ids)).delivery_inboxes())
    return inboxes


@transaction.atomic
def federate_article(article_id: int) -> list[int]:
    """Tell followers what changed about one article since they were last told: Create (and
    each of its topics Announces it to the topic's followers), Update, or Delete. Safe to run
    twice: the second run finds nothing new. Returns the ids of the deliveries to queue."""
    deliveries: list[int] = []
    if not Follower.objects.exists():
        return deliveries
    record = FederatedArticle.objects.select_for_update().filter(article_id=article_id).first()
    found = documents.articles_for_objects(Article.objects.filter(pk=article_id))
    article = found[0] if found else None
    public = article is not None and article.is_public
    if not public:
        if record is None or record.state == FederatedArticle.State.DELETED:
            return deliveries
        _cancel_pending(article_id, ("Create", "Announce", "Update"))
        deliveries += record_activity(
            "Delete",
            SITE_ACTOR,
            documents.tombstone(article_id),
            _site_and_topic_inboxes(record.topic_ids),
            to=[documents.PUBLIC],
            cc=[documents.actor_url(SITE_ACTOR) + "/followers"],
            article_id=article_id,
        )
        record.state = FederatedArticle.State.DELETED
        record.updated_at = timezone.now()
        record.save(update_fields=["state", "updated_at"])
        return deliveries
    assert article is not None
    document = documents.article_object(article)
    digest = documents.content_hash(document)
    topic_ids = [topic.pk for topic in article.shown_topics]
    if record is not None and record.state == FederatedArticle.State.PUBLIC:
        if record.content_hash == digest:
            return deliveries
        kind = "Update"
        _cancel_pending(article_id, ("Update",))
        deliveries += record_activity(
            kind,
            SITE_ACTOR,
            documents.with_update_time(document, article),
            _site_and_topic_inboxes({*topic_ids, *record.topic_ids}),
            to=document["to"],
            cc=document["cc"],
            article_id=article_id,
        )
    elif record is None and article.published_at < timezone.now() - FRESH_WINDOW:  # type: ignore[operator]
        kind = ""
    else:
        kind = "Create"
        deliveries += record_activity(
            kind,
            SITE_ACTOR,
            document,
            Follower.objects.of_site().delivery_inboxes(),
            to=document["to"],
            cc=document["cc"],
            article_id=article_id,
        )
        for topic_id in topic_ids:
            inboxes = Follower.objects.of_topics([topic_id]).delivery_inboxes()
            if inboxes:
                followers = documents.actor_url(topic_actor(topic_id)) + "/followers"
                deliveries += record_activity(
                    "Announce",
                    topic_actor(topic_id),
                    document["id"],
                    inboxes,
                    to=[documents.PUBLIC],
                    cc=[followers],
                    article_id=article_id,
                )
    FederatedArticle.objects.update_or_create(
        article_id=article_id,
        defaults={
            "state": FederatedArticle.State.PUBLIC,
            "content_hash": digest,
            "topic_ids": topic_ids,
            "updated_at": timezone.now(),
        },
    )
    return deliveries
