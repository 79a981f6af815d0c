from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "pressroom.front"

    def ready(self) -> None:
        # Connects the page cache to content_changed in every process (web, worker, commands).
        from pressroom.lib import pagecache  # noqa: F401
