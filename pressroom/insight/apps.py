from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "pressroom.insight"
    verbose_name = "Insight"

    def ready(self) -> None:
        from pressroom.insight import counting as page_counting
        from pressroom.lib import counting

        # After the newsletter's hook (INSTALLED_APPS order), which leaves a send's tag in the
        # environ and takes it off the address.
        counting.register_request_hook(page_counting.count_request)
        counting.register_reader("page", page_counting.read_views)
        counting.register_sink("view", page_counting.store_views)
        counting.register_sink("visitor", page_counting.store_visitors)
        counting.register_sink("sendvisitor", page_counting.store_send_visitors)
