"""`pressroom worker`: the task worker and the periodic scheduler in one process.

Run it on as many machines as you like: tasks are claimed through the database, the daily digest
is built once per date (a unique constraint), and digest batches are claimed row by row. Each
process keeps a heartbeat row (`pressroom.workers`) under the worker id it also gives
django-tasks-db, so the task results it ran and the digest rows it holds name it.
"""

import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand

from pressroom.lib.tasks import load_task_modules
from pressroom.workers import heartbeat


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
        load_task_modules()
        # --batch runs what is queued and exits (tests, cron): the work it claims beats for it.
        beating = None if options["batch"] else heartbeat.start_heartbeat()
        try:
            self.work(options)
        finally:
            if beating is not None:
                beating.stopping.set()
                beating.join(timeout=5)  # not in the middle of a beat bringing the row back
            heartbeat.stop()

    def work(self, options: dict[str, object]) -> None:
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
            worker_id=heartbeat.current_worker_id(),
        )
