"""`pressroom move_monthly_donors --from stripe --to paypal`: invite every active monthly donor
of one processor to restart their gift at another (docs/fundraising.md, "Moving to a new
processor")."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from pressroom.fundraising import services
from pressroom.fundraising.models import DonationStateError
from pressroom.fundraising.providers import ProviderError, processor_names


class Command(BaseCommand):
    help = (
        "Email every active monthly donor of the --from processor a signed link that restarts "
        "their gift at the --to processor in two clicks; each old gift is cancelled once its "
        "replacement is active."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="from_provider", required=True, help="e.g. stripe")
        parser.add_argument("--to", dest="to_provider", required=True, help="e.g. paypal")
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the gifts that would be invited."
        )

    def handle(self, *args: object, **options: object) -> None:
        from_provider = str(options["from_provider"])[:40]
        to_provider = str(options["to_provider"])[:40]
        installed = processor_names()
        for name in (from_provider, to_provider):
            if name not in installed:
                raise CommandError(
                    f"No payment processor is called {name!r} (installed: {', '.join(installed)})."
                )
        if options["dry_run"]:
            count = len(services.monthly_gifts_to_move(from_provider))
            self.stdout.write(
                f"{count} active monthly gift(s) at {from_provider} would be invited."
            )
            return
        try:
            with transaction.atomic():
                sent = services.invite_monthly_donors_to_move(from_provider, to_provider)
        except (DonationStateError, ProviderError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Queued {sent.queued} invitation(s) to move to {to_provider}; "
            f"{sent.skipped} donor(s) without a deliverable address skipped."
        )
