from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "pressroom.search"

    def ready(self) -> None:
        from pressroom.search import signals  # noqa: F401
