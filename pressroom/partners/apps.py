from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from pressroom.publishing.models import Article


class PartnersConfig(AppConfig):
    name = "pressroom.partners"
    verbose_name = "Partners"

    def ready(self) -> None:
        from pressroom.partners.republication import article_foot
        from pressroom.publishing.hooks import register_article_foot

        # The licence line and the "Republish this article" panel on article pages.
        register_article_foot(article_foot)

        from pressroom.publishing.signals import articles_written

        # The queue's "we have it" compares link keys: kept with the articles that are written.
        articles_written.connect(remember_article_links, dispatch_uid="partners-article-links")


def remember_article_links(
    sender: object, articles: list[Article] | None = None, **kwargs: object
) -> None:
    if articles:
        from pressroom.partners import services

        services.remember_article_links(articles)
