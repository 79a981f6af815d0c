from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "pressroom.partners"
    verbose_name = "Partners"

    def ready(self) -> None:
        from pressroom.partners.republication import article_foot
        from pressroom.publishing.hooks import register_article_foot

        # The licence line and the "Republish this article" panel on article pages.
        register_article_foot(article_foot)
