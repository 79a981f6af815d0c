"""`pressroom send_digest [--now] [--sync]`: build today's digest and queue (or send) it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from pressroom.newsletter import sending, tasks
from pressroom.newsletter.models import Digest


class Command(BaseCommand):
    help = (
        "Build today's Daily Digest from what was published since the previous one and queue "
        "it for the workers. Without --now, delivery waits for DIGEST_SEND_AT if that is still "
        "ahead today."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--now", action="store_true", help="Deliver now instead of at DIGEST_SEND_AT."
        )
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Send in this process and return when done (implies --now).",
        )

    def handle(self, *args: object, **options: object) -> None:
        send_now = bool(options["now"] or options["sync"])
        try:
            digest, created = tasks.build_and_queue_digest(send_now=send_now)
        except Exception as error:  # a database or template problem: one clear line
            raise CommandError(f"Could not build the digest: {error}") from error
        if digest is None:
            self.stdout.write("Nothing was published since the previous digest: no digest today.")
            return
        if not created:
            self.stdout.write(
                f"Today's digest ({digest.date}) already exists and is {digest.get_status_display().lower()}."
            )
        else:
            recipients = digest.deliveries.count()
            when = (
                f"at {digest.send_after:%H:%M %Z}" if digest.send_after and not send_now else "now"
            )
            self.stdout.write(
                f"Digest {digest.date}: {digest.articles.count()} articles, {recipients} "
                f"recipients, delivery {when}"
                + ("." if options["sync"] else " by `pressroom worker`.")
            )
        if options["sync"] and digest.status == Digest.Status.SENDING:
            try:
                sent = sending.send_all_batches(digest.pk)
            except OSError as error:
                raise CommandError(
                    f"Could not reach the mail server: {error}. Rows left are re-queued by "
                    "`pressroom worker`, or run this command again."
                ) from error
            progress = Digest.objects.get(pk=digest.pk).progress()
            self.stdout.write(
                f"Sent {sent} messages ({progress['sent']} sent, {progress['failed']} failed, "
                f"{progress['bounced']} bounced, {progress['skipped']} skipped)."
            )
