from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "pressroom.newsletter"
    verbose_name = "Newsletter"

    def ready(self) -> None:
        from pressroom.lib import counting
        from pressroom.newsletter import (
            receivers,  # noqa: F401  (connects anymail's signal)
            visits,
        )

        counting.register_request_hook(visits.count_send_visit)
        counting.register_sink("send", visits.store_visits)
