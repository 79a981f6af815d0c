from django.apps import AppConfig


class FundraisingConfig(AppConfig):
    name = "pressroom.fundraising"

    def ready(self) -> None:
        # The start-up checks, and the processor tasks the services' signals queue.
        from pressroom.fundraising import checks, processor_tasks  # noqa: F401
        from pressroom.fundraising.audiences import DONORS
        from pressroom.fundraising.models import Campaign
        from pressroom.lib.audiences import register_donor_source
        from pressroom.lib.pagecache import register_next_publication

        # The newsletter's donor segments (appeals to non-donors, thanks to monthly donors).
        register_donor_source(DONORS)

        # Every public page shows the running campaign's banner: the page cache must not keep
        # one past the moment a campaign starts or ends (gifts move the generation on in
        # services.forget_campaign_figures).
        register_next_publication(Campaign.objects.next_change_after)
