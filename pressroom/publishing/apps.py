from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PublishingConfig(AppConfig):
    name = "pressroom.publishing"

    def ready(self) -> None:
        from pressroom.publishing.roles import ensure_editor_group

        # Every app's post_migrate, so that later apps' permissions are granted too.
        post_migrate.connect(ensure_editor_group, dispatch_uid="publishing-editor-group")
