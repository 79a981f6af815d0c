"""`pressroom go-live`: a restored copy becomes the site (shared cache keys, tasks run)."""

from django.core.management.base import BaseCommand

from pressroom.backups import isolation


class Command(BaseCommand):
    help = "End the isolation of a restored backup: the worker starts running tasks."

    def handle(self, *args: object, **options: object) -> None:
        if not isolation.go_live():
            self.stdout.write("This site is not an isolated restored copy: nothing to do.")
            return
        self.stdout.write(
            "Live: restart the app servers and the worker so they use the site's cache keys "
            "(a waiting worker exits by itself; systemd starts it again)."
        )
