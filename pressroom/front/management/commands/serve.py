"""`pressroom serve`: the production web server (granian, WSGI), never runserver."""

import ipaddress
import os
import shutil
import socket
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Serve the site with the production server (granian). Static files come through WhiteNoise."
    )

    def add_arguments(self, parser) -> None:
        # Defaults from the environment (HOST, PORT, WEB_WORKERS, WEB_THREADS), which
        # settings.py has already validated.
        parser.add_argument("--host", default=settings.WEB_HOST)
        parser.add_argument("--port", type=int, default=settings.WEB_PORT)
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.WEB_WORKERS,
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
        if not 0 < int(options["port"]) < 65536:  # type: ignore[call-overload]
            raise CommandError("--port must be between 1 and 65535.")
        if not 0 <= int(options["workers"]) <= 256 or not 1 <= int(options["threads"]) <= 256:  # type: ignore[call-overload]
            raise CommandError("--workers must be 0 (one per core) to 256; --threads 1 to 256.")
        try:
            ipaddress.ip_address(str(options["host"]))
        except ValueError:
            raise CommandError(
                f"--host (HOST) must be an IP address like 127.0.0.1 or ::1, not {options['host']!r}."
            ) from None
        refuse_a_taken_address(str(options["host"]), int(options["port"]))  # type: ignore[call-overload]
        workers = options["workers"] or os.cpu_count() or 1
        if settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS:
            share_metrics_between_workers(int(options["port"]))  # type: ignore[call-overload]
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


def refuse_a_taken_address(host: str, port: int) -> None:
    """One line now, rather than the server's traceback after exec: the address must be free."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error.strerror}.") from None


def share_metrics_between_workers(port: int) -> None:
    """prometheus-client's multi-process mode: each worker keeps its counters in a file under
    this instance's directory, and /metrics adds them up. Emptied at start, as the library
    asks, so counters restart from zero with the instance, as a single process's would."""
    directory = settings.VAR_DIR / "metrics" / str(port)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
