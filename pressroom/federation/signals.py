from django.dispatch import receiver
from django.utils import timezone

from pressroom.federation.models import Follower
from pressroom.federation.tasks import federate_articles
from pressroom.publishing.models import Article
from pressroom.publishing.signals import content_changed

# Articles per task: an import's large batch is split so no task holds many rows at once.
BATCH = 200


@receiver(content_changed, dispatch_uid="federation-articles-changed")
def federate_changed_articles(article_ids: list[int] | None = None, **kwargs: object) -> None:
    """After commit, a save of articles becomes a task: never any delivery on the request."""
    if not article_ids:
        return
    ids = sorted({int(pk) for pk in article_ids or ()})
    if not Follower.objects.exists():
        # Nobody to tell now (an import of old articles queues nothing), but an article
        # scheduled for later is looked at when its time comes: someone may follow by then.
        ids = list(
            Article.objects.filter(
                pk__in=ids, status=Article.Status.SCHEDULED, published_at__gt=timezone.now()
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for start in range(0, len(ids), BATCH):
        federate_articles.enqueue(ids[start : start + BATCH])
