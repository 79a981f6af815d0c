from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "pressroom.front"

    def ready(self) -> None:
        from pressroom.front import signals  # noqa: F401
