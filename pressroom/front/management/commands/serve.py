"""`pressroom serve`: the production web server (granian, WSGI), never runserver."""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Serve the site with the production server (granian). Static files come through WhiteNoise."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("WEB_WORKERS", "0")),
            help="Worker processes (default: one per CPU core).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.WEB_THREADS,
            help="Threads per worker process (default: WEB_THREADS, 8).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if not (settings.STATIC_ROOT / "staticfiles.json").exists() and not settings.DEBUG:
            raise CommandError(
                "Static files are not collected: run `pressroom collectstatic --no-input` first."
            )
        workers = options["workers"] or os.cpu_count() or 1
        if int(options["threads"]) < 1:  # type: ignore[call-overload]
            raise CommandError("--threads must be 1 or more.")
        command = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            str(options["host"]),
            "--port",
            str(options["port"]),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(options["threads"]),
            "--no-ws",
            "--log-level",
            "warning",
            "pressroom.wsgi:application",
        ]
        self.stdout.write(
            f"Serving {settings.SITE_NAME} on http://{options['host']}:{options['port']}/ with {workers} worker(s)"
        )
        sys.stdout.flush()
        os.execv(sys.executable, command)
