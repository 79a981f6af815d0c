"""`pressroom partners add|list|fetch`: partner outlets from the command line.

pressroom partners add NAME FEED_URL [FEED_URL ...] [--licence L] [--topics a,b] [--full-text]
pressroom partners list
pressroom partners fetch [NAME]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q

from pressroom.partners import polling, services
from pressroom.partners.models import Item, Partner
from pressroom.publishing.models import Topic


class Command(BaseCommand):
    help = "Register partner outlets, list them, and fetch their feeds now."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="add|list|fetch")
        add = commands.add_parser("add", help="register a partner outlet and its feeds")
        add.add_argument("name")
        add.add_argument("feed_urls", nargs="+", metavar="FEED_URL")
        add.add_argument("--licence", default="", help='e.g. "CC BY-NC-ND 4.0"')
        add.add_argument("--topics", default="", help="default topics: names or slugs, a,b")
        add.add_argument("--full-text", action="store_true", help="its feed carries the full text")
        add.add_argument("--site", default="", help="its site's address")
        add.add_argument(
            "--interval", type=int, default=30, help="minutes between fetches (default 30)"
        )
        commands.add_parser("list", help="partners and their feeds, with status and counts")
        fetch = commands.add_parser("fetch", help="fetch feeds now (one partner or all)")
        fetch.add_argument("name", nargs="?", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(**options)

    def handle_add(self, **options: Any) -> None:
        topics = []
        for wanted in [part.strip() for part in options["topics"].split(",") if part.strip()]:
            topic = Topic.objects.filter(Q(name__iexact=wanted) | Q(slug=wanted)).first()
            if topic is None:
                raise CommandError(f"no topic called {wanted[:100]!r}; create it first")
            topics.append(topic)
        try:
            partner = services.add_partner(
                options["name"],
                options["feed_urls"],
                site_url=options["site"],
                licence=options["licence"],
                topics=topics,
                full_text=options["full_text"],
                interval_minutes=options["interval"],
            )
        except services.PartnerError as error:
            raise CommandError(str(error)) from None
        feeds = partner.feeds.count()
        self.stdout.write(f"Added {partner.name} with {feeds} feed{'s' if feeds != 1 else ''}.")

    def handle_list(self, **options: Any) -> None:
        partners = Partner.objects.annotate(
            queued=Count("items", filter=Q(items__state=Item.State.NEW)),
            republished=Count("items", filter=Q(items__state=Item.State.REPUBLISHED)),
        ).prefetch_related("feeds")
        if not partners:
            self.stdout.write("No partners yet: add one with `pressroom partners add`.")
        for partner in partners:
            self.stdout.write(
                f"{partner.name} — {partner.licence or 'no licence given'}; "
                f"{partner.queued} in the queue, {partner.republished} republished"
            )
            for feed in partner.feeds.all():
                fetched = (
                    feed.last_fetched_at.strftime("%Y-%m-%d %H:%M")
                    if feed.last_fetched_at
                    else "never"
                )
                line = (
                    f"  {feed.url}  {feed.get_status_display()}, last fetch {fetched}, "
                    f"{feed.items_seen} items"
                )
                if feed.last_error:
                    line += f", error: {feed.last_error}"
                self.stdout.write(line)

    def handle_fetch(self, **options: Any) -> None:
        partner = None
        if options["name"]:
            partner = Partner.objects.filter(name__iexact=options["name"].strip()).first()
            if partner is None:
                raise CommandError(f"no partner called {options['name'][:100]!r}")
        results = polling.fetch_partner(partner)
        if not results:
            raise CommandError("no feeds to fetch")
        for result in results:
            if result.error:
                self.stdout.write(f"{result.url}: failed: {result.error}")
            elif result.not_modified:
                self.stdout.write(f"{result.url}: not modified since the last fetch")
            else:
                line = f"{result.url}: {result.new} new, {result.known} already known, "
                line += f"{result.failed} failed"
                if result.skipped:
                    line += f", {result.skipped} by authors not on the list"
                self.stdout.write(line)
        failed = sum(1 for result in results if result.error)
        if failed:
            raise CommandError(f"{failed} of {len(results)} feeds failed")
