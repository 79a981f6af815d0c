"""`pressroom worker`: the task worker and the periodic scheduler in one process.

Run it on as many machines as you like: tasks are claimed through the database, the daily digest
is built once per date (a unique constraint), and digest batches are claimed row by row.
"""

import importlib
import threading

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.module_loading import module_has_submodule


def load_task_modules() -> None:
    """Import every app's tasks module so that @cron schedules register themselves."""
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "tasks"):
            importlib.import_module(f"{app.name}.tasks")


class Command(BaseCommand):
    help = "Run background tasks (django-tasks-db worker) and the periodic scheduler."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--queue-name", default="*", help="Queues to work on (default: all).")
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls.")
        parser.add_argument(
            "--no-scheduler",
            action="store_true",
            help="Only run tasks; another worker runs the schedule.",
        )
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")

    def handle(self, *args: object, **options: object) -> None:
        from pressroom.backups import isolation

        if options["batch"] and isolation.is_isolated():
            self.stdout.write("Tasks are paused: this is a restored copy (`pressroom go-live`).")
            return
        # A restored copy must not mail the subscribers it contains before it is the site.
        isolation.wait_until_live()
        load_task_modules()
        if not options["batch"]:
            # A worker starting (again) first looks for deliveries a dead worker left
            # half-sent; the scheduler repeats this every DIGEST_RECOVERY_INTERVAL seconds.
            from pressroom.newsletter.tasks import recover_deliveries

            recover_deliveries.enqueue()
        if not options["no_scheduler"] and not options["batch"]:
            from crontask import scheduler

            # The scheduler only enqueues tasks; the worker loop below runs them.
            threading.Thread(target=scheduler.start, name="scheduler", daemon=True).start()
        call_command(
            "db_worker",
            queue_name=options["queue_name"],
            interval=options["interval"],
            batch=options["batch"],
            startup_delay=False,
        )
