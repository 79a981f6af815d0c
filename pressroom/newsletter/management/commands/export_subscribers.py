"""`pressroom export_subscribers [-o FILE]`: every subscriber as CSV."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pressroom.lib.spreadsheets import SafeWriter
from pressroom.newsletter.models import Subscriber

COLUMNS = [
    "email",
    "status",
    "paused",
    "topics",
    "created_at",
    "consented_at",
    "confirmed_at",
    "unsubscribed_at",
    "suppressed_at",
]


def _iso(value) -> str:
    return value.isoformat() if value else ""


class Command(BaseCommand):
    help = "Write every subscriber as CSV (email, status, topics, dates) to stdout or a file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args: object, **options: object) -> None:
        output = options.get("output")
        try:
            # Closed in the finally below; stdout is not ours to close.
            stream = (
                open(Path(str(output)), "w", newline="", encoding="utf-8")  # noqa: SIM115
                if output
                else self.stdout
            )
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error}") from None
        try:
            writer = SafeWriter(stream, lineterminator="\n")  # defuses formulas
            writer.writerow(COLUMNS)
            subscribers = Subscriber.objects.order_by("id").prefetch_related("topics")
            for subscriber in subscribers.iterator(chunk_size=2000):
                topics = ";".join(sorted(topic.slug for topic in subscriber.topics.all()))
                writer.writerow(
                    [
                        subscriber.email,
                        subscriber.status,
                        "yes" if subscriber.is_paused else "no",
                        topics if not subscriber.all_topics else "",
                        _iso(subscriber.created_at),
                        _iso(subscriber.consented_at),
                        _iso(subscriber.confirmed_at),
                        _iso(subscriber.unsubscribed_at),
                        _iso(subscriber.suppressed_at),
                    ]
                )
        finally:
            if output:
                stream.close()
        if output:
            self.stderr.write(f"Wrote {subscribers.count()} subscribers to {output}.")
