"""`pressroom worker`: the task worker and the periodic scheduler in one process.

Run it on as many machines as you like: tasks are claimed through the database, the daily digest
is built once per date (a unique constraint), and a digest batch is held by one worker. Each
process keeps a heartbeat row (`pressroom.workers`) under the worker id it also gives
django-tasks-db, so the task results it ran and the digest batches it holds name it.
"""

import logging
import threading
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.utils import InterfaceError, OperationalError

from pressroom.lib.tasks import load_task_modules
from pressroom.workers import heartbeat

logger = logging.getLogger(__name__)
# Seconds between attempts to reach the database again while it is away.
RECONNECT_SECONDS = 2


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
        if isolation.wait_until_live():
            # This process read the copy's cache key prefix at start-up: settings are read once,
            # so it exits and systemd (Restart=always) starts it again as the site.
            self.stdout.write("The restored copy went live: exiting to restart as the site.")
            return
        load_task_modules()
        # --batch runs what is queued and exits (tests, cron): the work it claims beats for it.
        self.beating: heartbeat.HeartbeatThread | None = None
        try:
            self.work(options)
        finally:
            if self.beating is not None:
                self.beating.stopping.set()
                self.beating.join(timeout=5)  # not in the middle of a beat bringing the row back
            heartbeat.stop()

    def work(self, options: dict[str, object]) -> None:
        started = False
        waiting_since = 0.0
        while True:
            try:
                if self.beating is None and not options["batch"]:
                    # In the loop: a worker started while the database is away waits for it.
                    self.beating = heartbeat.start_heartbeat()
                if not started and not options["batch"]:
                    # A worker starting (again) first looks for deliveries a dead worker left
                    # half-sent; the scheduler repeats this every DIGEST_RECOVERY_INTERVAL s.
                    from pressroom.newsletter.tasks import recover_deliveries

                    recover_deliveries.enqueue()
                if not started and not options["no_scheduler"] and not options["batch"]:
                    from crontask import scheduler

                    # The scheduler only enqueues tasks; the worker loop below runs them.
                    threading.Thread(target=scheduler.start, name="scheduler", daemon=True).start()
                started = True
                call_command(
                    "db_worker",
                    queue_name=options["queue_name"],
                    interval=options["interval"],
                    batch=options["batch"],
                    startup_delay=False,
                    worker_id=heartbeat.current_worker_id(),
                )
                return
            except (OperationalError, InterfaceError) as error:
                # The database is away (restarting, failing over): wait for it rather than exit,
                # which would leave the queue unserved until someone notices.
                if options["batch"]:
                    raise CommandError(
                        f"the database is unreachable: {first_line(error)}"
                    ) from None
                now = time.monotonic()
                if not waiting_since or now - waiting_since >= 60:
                    waiting_since = now
                    logger.warning(
                        "worker: the database is unreachable (%s); retrying every %s s",
                        first_line(error),
                        RECONNECT_SECONDS,
                    )
                connections.close_all()
                time.sleep(RECONNECT_SECONDS)


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
