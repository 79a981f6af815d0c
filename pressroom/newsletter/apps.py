from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "pressroom.newsletter"
    verbose_name = "Newsletter"

    def ready(self) -> None:
        from pressroom.newsletter import receivers  # noqa: F401  (connects anymail's signal)
