from collections.abc import Sequence

from django.dispatch import receiver

from pressroom.publishing.models import Article
from pressroom.publishing.signals import articles_written
from pressroom.search.backends import index_articles


@receiver(articles_written, dispatch_uid="search-index-written-articles")
def reindex_written_articles(
    article_ids: list[int] | None = None,
    articles: Sequence[Article] | None = None,
    **kwargs: object,
) -> None:
    """Keep the index in step with what readers can see, in the transaction that wrote the
    articles: a batch of an import is indexed with it, however many articles it holds, from
    the instances written when the sender has them (no read back)."""
    if article_ids:
        index_articles(article_ids, written=articles)
