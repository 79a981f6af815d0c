from django.dispatch import receiver

from pressroom.publishing.signals import content_changed
from pressroom.search.backends import index_articles


@receiver(content_changed)
def reindex_changed_articles(article_ids: list[int] | None = None, **kwargs: object) -> None:
    """Keep the index in step with what readers can see. Bulk writers call index_articles()."""
    if article_ids:
        index_articles(article_ids)
