from django.apps import AppConfig


class FundraisingConfig(AppConfig):
    name = "pressroom.fundraising"

    def ready(self) -> None:
        from pressroom.fundraising.models import Campaign
        from pressroom.lib.pagecache import register_next_publication

        # Every public page shows the running campaign's banner: the page cache must not keep
        # one past the moment a campaign starts or ends (gifts move the generation on in
        # services.forget_campaign_figures).
        register_next_publication(Campaign.objects.next_change_after)
