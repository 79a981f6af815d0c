"""`pressroom federation_report`: followers, deliveries and the instances given up on."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from pressroom.federation import documents, services
from pressroom.federation.models import SITE_ACTOR, Delivery, Follower, Instance


class Command(BaseCommand):
    help = "Show fediverse followers, deliveries, and dead instances; --revive DOMAIN."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--revive", metavar="DOMAIN", help="Deliver to a dead instance again.")

    def handle(self, *args: object, **options: object) -> None:
        revive = options.get("revive")
        if isinstance(revive, str):
            if not services.revive_instance(revive.strip().lower()[:260]):
                raise CommandError(f"{revive[:260]} is not a dead instance")
            self.stdout.write(f"{revive} will get deliveries again.")
            return
        site = Follower.objects.filter(followed=SITE_ACTOR).count()
        self.stdout.write(f"Handle: {documents.handle(_username())}")
        self.stdout.write(f"Followers of the site: {site}")
        topics = (
            Follower.objects.exclude(followed=SITE_ACTOR)
            .values("topic__slug")
            .annotate(count=Count("id"))
            .order_by("-count")
        )
        for row in topics:
            self.stdout.write(f"Followers of @{row['topic__slug']}: {row['count']}")
        instances = Follower.objects.values("domain").distinct().count()
        self.stdout.write(f"Instances followed from: {instances}")
        states = dict(Delivery.objects.values_list("state").annotate(count=Count("id")).order_by())
        self.stdout.write(
            "Deliveries: "
            + ", ".join(f"{state} {states.get(state, 0)}" for state in Delivery.State.values)
        )
        dead = Instance.objects.filter(dead_since__isnull=False)
        self.stdout.write(f"Dead instances (skipped until they post to us again): {dead.count()}")
        for instance in dead:
            self.stdout.write(
                f"  {instance.domain}  dead since {instance.dead_since:%Y-%m-%d %H:%M}"
                f"  last error: {instance.last_error[:120]}"
            )


def _username() -> str:
    from django.conf import settings

    return settings.FEDERATION_USERNAME
