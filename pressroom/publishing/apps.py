from django.apps import AppConfig
from django.db.models.signals import post_migrate

from pressroom.lib.pagecache.generation import forget_cached_pages
from pressroom.lib.pagecache.pages import register_next_publication
from pressroom.publishing.signals import content_changed


class PublishingConfig(AppConfig):
    name = "pressroom.publishing"

    def ready(self) -> None:
        # Models exist only once apps are loaded.
        from pressroom.publishing.models import Article
        from pressroom.publishing.roles import ensure_editor_group

        # Every app's post_migrate, so that later apps' permissions are granted too.
        post_migrate.connect(ensure_editor_group, dispatch_uid="publishing-editor-group")
        # The page cache (lib) knows no app: publishing tells it when public content changes
        # (every cached page is then out of date) and when the next scheduled article goes public.
        content_changed.connect(forget_cached_pages, dispatch_uid="pagecache-bump-generation")
        register_next_publication(Article.objects.next_publication_after)
