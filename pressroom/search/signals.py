from django.dispatch import receiver

from pressroom.publishing.signals import articles_written
from pressroom.search.backends import index_articles


@receiver(articles_written, dispatch_uid="search-index-written-articles")
def reindex_written_articles(article_ids: list[int] | None = None, **kwargs: object) -> None:
    """Keep the index in step with what readers can see, in the transaction that wrote the
    articles: a batch of an import is indexed with it, however many articles it holds."""
    if article_ids:
        index_articles(article_ids)
