from django.apps import AppConfig

from pressroom.lib.pagecache import forget_cached_pages, register_next_publication
from pressroom.publishing.signals import content_changed


class PublishingConfig(AppConfig):
    name = "pressroom.publishing"

    def ready(self) -> None:
        # Models exist only once apps are loaded.
        from pressroom.publishing.models import Article, HomeSlot

        # The page cache (lib) knows no app: publishing tells it when public content changes
        # (every cached page is then out of date) and when the next scheduled article goes public.
        content_changed.connect(forget_cached_pages, dispatch_uid="pagecache-bump-generation")
        register_next_publication(Article.objects.next_publication_after)
        # A home page story that expires changes the home page without a save.
        register_next_publication(HomeSlot.objects.next_change_after)
