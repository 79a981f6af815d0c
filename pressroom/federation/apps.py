from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "pressroom.federation"
    verbose_name = "Fediverse"

    def ready(self) -> None:
        # Publishing announces its changes; federation turns them into activities (publishing
        # never imports this app).
        from pressroom.federation import checks, signals  # noqa: F401
