"""Digest sending throughput: 100,000 subscribers, a 25-article digest, real workers, smtp-sink.

`python -m bench digest [--subscribers=N] [--workers=N] [--connections=N] [--database-url=URL]`
(options as --name=value: the bench runner passes only arguments starting with a dash)

Sets up a fresh database (a SQLite file in a temporary directory unless --database-url names
a PostgreSQL database to drop and recreate), starts Postfix's smtp-sink on 127.0.0.1, starts
`pressroom worker` subprocesses, runs `pressroom send_digest --now` and times delivery until the
sink has counted every message. Then smtp-source blasts the same sink with messages of the
digest's size, over as many connections as the workers used and over half as many: the higher
rate is the ceiling.

Goals (issues 4 and 16): >= 1,700 messages/s sustained (a million in under 10 minutes), at
least 70% of smtp-source's ceiling in the same run, worker peak memory < 300 MB, first message
within 5 s, no duplicates, and building the segment locks signups out for under a second. The workers' CPU time per message (user + system, from /proc) is
printed too: it survives a loaded machine better than wall time. So are smtp-sink's and, when
PostgreSQL runs on this machine, the database server's (its processes, with the backends it has
reaped), and smtp-source's and smtp-sink's together while the ceiling is measured: on two cores
these shares of the CPU are what the rate and the ceiling are made of.

While the digest's deliveries are written (the segment of every recipient, in committed chunks),
a probe process makes a signup's writes every 0.1 s (the per-address signup count and the new
reader, through the signup service), each in a transaction it rolls back, so no confirmation
email joins the sink's count; it reports the longest a signup waited. On SQLite that is the
write lock, which the fan-out holds per chunk and the other worker per commit of a batch's
outcomes: the figure is the wait behind every writer, not only the segment's.

--port-base=N: smtp-sink listens on the first free port from N (default 2525; parallel runs on
one machine each take their own range).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
PRESSROOM = str(Path(sys.executable).parent / "pressroom")

SEED = """
import random
from django.utils import timezone
from pressroom.newsletter.models import Subscriber
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
random.seed(4)
topics = [services.save_topic(Topic(name=name)) for name in
          ["Peru", "Chile", "Bolivia", "Labour", "Climate", "Housing"]]
words = ("march strike assembly water miners students union river land court vote rent "
         "harvest forest council wage").split()
now = timezone.now()
for n in range({articles}):
    body = "".join(
        "<p>" + " ".join(random.choice(words) for _ in range(60)) + ".</p>" for _ in range(4)
    )
    services.save_article(
        Article(title=f"Story {{n}}: " + " ".join(random.choice(words) for _ in range(6)),
                body=body, status="published",
                published_at=now - timezone.timedelta(minutes=5 + n)),
        topics=[topics[n % len(topics)]], authors=[],
    )
Subscriber.objects.bulk_create(
    (Subscriber(email=f"reader{{n}}@example.org", status="confirmed", consented_at=now)
     for n in range({subscribers})),
    batch_size=5000,
)
# A list that has been in use: its table vacuumed and its statistics taken, as autovacuum
# does within minutes of a large import (fresh from the insert, each chunk of the fan-out
# took 100 ms on PostgreSQL instead of 5).
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
print(Subscriber.objects.count())
"""

QUEUE_DAILY_DIGEST = """
import time
from pressroom.newsletter.tasks import send_daily_digest
send_daily_digest.enqueue()
print(time.time())
"""

DELIVERY_STATES = """
from django.db.models import Count
from pressroom.newsletter.models import Delivery, Digest
print(Digest.objects.get().status, dict(Delivery.objects.values_list("state").annotate(Count("id"))))
"""

# A signup every 0.1 s while the deliveries are being written; prints "<signups> <max ms> <p99 ms>".
SIGNUP_PROBE = """
import time
from django.db import transaction
from pressroom.newsletter.models import Digest
from pressroom.newsletter.services import request_subscription, signup_allowed_from
def sign_up(address):
    with transaction.atomic():
        signup_allowed_from("192.0.2.1")
        request_subscription(address)
        transaction.set_rollback(True)  # the write took its lock; nothing is kept or mailed
sign_up("warm-up@example.org")  # imports, the first connection, compiled queries: not a wait
print("ready", flush=True)
waits = []
deadline = time.monotonic() + {timeout}
while time.monotonic() < deadline:
    digest = Digest.objects.filter(kind=Digest.Kind.DIGEST).first()
    if digest is not None and digest.is_fanned_out:
        break
    started = time.monotonic()
    sign_up(f"probe{{len(waits)}}@example.org")
    waits.append(time.monotonic() - started)
    time.sleep(0.1)
waits.sort()
print(len(waits), max(waits, default=0) * 1000, waits[int(len(waits) * 0.99)] * 1000 if waits else 0)
"""

MESSAGE_SIZE = """
from pressroom.newsletter import digests, rawmail, sending
from pressroom.newsletter.models import Digest
digest = Digest.objects.get()
content = digests.load_content(digest)
subject, text, html = digests.render_digest(content, content.entries)
headers = sending.personal_headers(digest.pk, 1, "https://news.example.org/digest/unsubscribe/" + "x" * 40 + "/")
# One complete message as it goes on the wire, before dot-stuffing.
prepared = rawmail.PreparedMessage.build(subject, text, html, ())
print(len(prepared.compose(from_header=rawmail.header("From", "news@example.org"),
      to="reader1@example.org", headers=headers, links={}, stuffed=False)))
"""


def free_port(base: int = 2525) -> int:
    for port in range(base, base + 75):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + 74}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children so far (/proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    # After the command: state is field 3; utime, stime, cutime, cstime are fields 14-17.
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class Sink:
    """smtp-sink with running counters; remembers when the first and last message came."""

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            [SMTP_SINK, "-c", "-u", "nobody", f"127.0.0.1:{port}", "1024"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        pattern = re.compile(rb"mesg=(\d+)")
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read1(65536):
            counts = pattern.findall(chunk)
            if counts:
                count = int(counts[-1])
                now = time.time()
                if count and self.first_at is None:
                    self.first_at = now
                if count != self.messages:
                    self.last_at = now
                self.messages = count

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


def local_postgres_cpu_seconds() -> float:
    """User + system CPU time of the PostgreSQL server on this machine so far: each postmaster
    with the backends it has reaped, and its live processes (/proc)."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        processes[int(entry.name)] = (command, int(fields[1]), [int(v) for v in fields[11:15]])
    ticks = 0
    for command, parent, times in processes.values():
        if command != "postgres":
            continue
        under_postmaster = processes.get(parent, ("",))[0] == "postgres"
        ticks += sum(times[:2]) if under_postmaster else sum(times)
    return ticks / os.sysconf("SC_CLK_TCK")


def smtp_source_rate(
    sessions: int, count: int, size: int, port: int, sink_pid: int
) -> tuple[float, float]:
    """Messages a second smtp-source sends to the sink over `sessions` connections, and the
    CPU seconds the two spent per message."""
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sink_before = cpu_seconds(sink_pid)
    started = time.monotonic()
    subprocess.run(
        [
            SMTP_SOURCE,
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "news@example.org",
            "-t",
            "reader@example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
    )
    elapsed = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    source_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return count / elapsed, (source_cpu + cpu_seconds(sink_pid) - sink_before) / count


def peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def prepare_database(url: str | None, workdir: Path) -> str:
    if not url:
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres"):
        import psycopg

        name = parts.path.lstrip("/")
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    return url


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench digest")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--connections",
        type=int,
        default=8,
        help="DIGEST_SMTP_CONNECTIONS of each worker (8: each commit records several "
        "messages; 16 was no faster on 2 cores). smtp-source's ceiling is measured over as "
        "many connections in all and over half as many.",
    )
    parser.add_argument(
        "--database-url", help="A PostgreSQL URL whose database is DROPPED and recreated."
    )
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--port-base", type=int, default=2525)
    args = parser.parse_args(argv)

    for tool in (SMTP_SINK, SMTP_SOURCE):
        if not os.path.exists(tool):
            print(
                f"bench digest: {tool} is missing. Install Postfix's test tools with "
                "`sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix`, then run again."
            )
            return 2

    workdir = Path(tempfile.mkdtemp(prefix="pressroom-bench-digest-"))
    port = free_port(args.port_base)
    database_url = prepare_database(args.database_url, workdir)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PRESSROOM_VAR_DIR": str(workdir),
        "SECRET_KEY": "bench-digest-secret-key-bench-digest-secret-key",
        "SITE_URL": "https://news.example.org",
        "DEFAULT_FROM_EMAIL": "Pressroom News <news@example.org>",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "DIGEST_BATCH_SIZE": str(args.batch_size),
        "DIGEST_SMTP_CONNECTIONS": str(args.connections),
        "LOG_LEVEL": "WARNING",
    }
    run = {"env": env, "cwd": workdir, "check": True, "capture_output": True, "text": True}
    sink = None
    workers: list[subprocess.Popen] = []
    probe: subprocess.Popen | None = None
    succeeded = False
    try:
        print(f"database: {database_url.split('@')[-1]}  sink: 127.0.0.1:{port}", flush=True)
        subprocess.run([PRESSROOM, "migrate", "--no-input", "-v0"], **run)
        started = time.monotonic()
        seed = SEED.format(articles=args.articles, subscribers=args.subscribers)
        subprocess.run([PRESSROOM, "shell", "-c", seed], **run)
        print(
            f"seeded {args.subscribers} subscribers, {args.articles} articles "
            f"in {time.monotonic() - started:.1f} s",
            flush=True,
        )

        sink = Sink(port)
        for n in range(args.workers):
            workers.append(
                subprocess.Popen(
                    [PRESSROOM, "worker", "--interval", "0.1"] + (["--no-scheduler"] if n else []),
                    env=env,
                    cwd=workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=open(workdir / f"worker{n}.log", "w"),  # noqa: SIM115
                )
            )
        time.sleep(3)  # let the workers start up and go idle, as they would be at 06:00
        # The signup probe, warmed up before the send starts.
        probe = subprocess.Popen(
            [PRESSROOM, "shell", "-c", SIGNUP_PROBE.format(timeout=args.timeout)],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert probe.stdout is not None
        # `pressroom shell` may print its own lines first; then "ready": it signs up from now
        # until the fan-out is done.
        while (line := probe.stdout.readline()) and line.strip() != "ready":
            pass
        if not line:
            print(f"bench digest: the signup probe did not start:\n{probe.communicate()[1]}")
            return 1
        # What the DIGEST_SEND_AT schedule does: queue the daily digest task. The clock starts
        # when it is queued; a worker builds the digest and fans out its batches.
        cpu_before = [cpu_seconds(worker.pid) for worker in workers]
        sink_cpu_before = cpu_seconds(sink.process.pid)
        local_postgres = urlsplit(database_url).hostname in ("127.0.0.1", "localhost", "::1")
        database_cpu_before = local_postgres_cpu_seconds() if local_postgres else 0.0
        queued = subprocess.run([PRESSROOM, "shell", "-c", QUEUE_DAILY_DIGEST], **run)
        t0 = float(queued.stdout.split()[-1])
        deadline = time.time() + args.timeout
        while sink.messages < args.subscribers and time.time() < deadline:
            if any(worker.poll() is not None for worker in workers):
                print("bench digest: a worker exited; see", workdir)
                return 1
            time.sleep(0.2)
        memory = [peak_rss_mb(worker.pid) for worker in workers]
        cpu_used = sum(cpu_seconds(w.pid) for w in workers) - sum(cpu_before)
        sink_cpu = cpu_seconds(sink.process.pid) - sink_cpu_before
        database_cpu = local_postgres_cpu_seconds() - database_cpu_before if local_postgres else 0.0
        if sink.messages < args.subscribers:
            print(f"bench digest: timed out with {sink.messages} of {args.subscribers} sent")
            return 1
        assert sink.first_at is not None
        assert sink.last_at is not None
        first = sink.first_at - t0
        sending_seconds = sink.last_at - sink.first_at
        end_to_end = sink.last_at - t0
        rate = args.subscribers / sending_seconds
        print()
        print(f"{'messages':<34}{args.subscribers:>12,}")
        print(f"{'workers x SMTP connections':<34}{args.workers:>9} x {args.connections}")
        print(f"{'time to first message (s)':<34}{first:>12.2f}   goal < 5")
        print(f"{'sending time (s)':<34}{sending_seconds:>12.1f}")
        print(f"{'end-to-end time (s)':<34}{end_to_end:>12.1f}")
        print(f"{'messages/s (first to last)':<34}{rate:>12,.0f}   goal >= 1,700")
        print(f"{'messages/s (end to end)':<34}{args.subscribers / end_to_end:>12,.0f}")
        print(f"{'a million at this rate (min)':<34}{1_000_000 / rate / 60:>12.1f}   goal < 10")
        print(
            f"{'worker CPU per message (us)':<34}{cpu_used / args.subscribers * 1e6:>12.0f}"
            f"   (all workers, build + fan-out + send)"
        )
        if local_postgres:
            print(
                f"{'database CPU per message (us)':<34}{database_cpu / args.subscribers * 1e6:>12.0f}"
                "   (PostgreSQL on this machine)"
            )
        print(f"{'smtp-sink CPU per message (us)':<34}{sink_cpu / args.subscribers * 1e6:>12.0f}")
        try:
            probe_out, probe_err = probe.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            probe_out, probe_err = "", "still signing up a minute after the last message"
        if probe.returncode != 0:  # None: still running after the minute
            print(f"{'signup wait during fan-out (ms)':<34}{'failed':>12}   {probe_err.strip()}")
        else:
            signups, longest, p99 = probe_out.split()[-3:]
            print(
                f"{'signup wait during fan-out (ms)':<34}{float(longest):>12.0f}   goal < 1,000"
                f"   (longest of {signups}; p99 {float(p99):.0f})"
            )
        for n, peak in enumerate(memory):
            print(f"{f'worker {n} peak RSS (MB)':<34}{peak:>12.0f}   goal < 300")
        print(f"{'load average (1 min)':<34}{os.getloadavg()[0]:>12.2f}   ({os.cpu_count()} CPUs)")
        time.sleep(1)  # the last progress records
        states = subprocess.run([PRESSROOM, "shell", "-c", DELIVERY_STATES], **run).stdout
        print(f"{'digest / delivery rows':<34}{states.strip().splitlines()[-1]}")
        print(
            f"{'messages received - recipients':<34}{sink.messages - args.subscribers:>12}   (duplicates)"
        )
        if sink.messages > args.subscribers:
            for n in range(args.workers):  # what the workers said about sending some twice
                log = (workdir / f"worker{n}.log").read_text(errors="replace").splitlines()
                print(f"worker {n} log, last lines:", *log[-15:], sep="\n  ")
        sys.stdout.flush()
        stop_workers(workers)

        size = int(
            subprocess.run([PRESSROOM, "shell", "-c", MESSAGE_SIZE], **run).stdout.split()[-1]
        )
        # smtp-source over as many connections as the workers used, and over half as many:
        # more connections can make the sink slower, so the higher of the two is the ceiling
        # (a ratio against a ceiling lowered by too many connections would flatter the workers).
        sessions = args.workers * args.connections
        ceilings = {
            n: smtp_source_rate(n, min(args.subscribers, 50_000), size, port, sink.process.pid)
            for n in sorted({sessions, max(1, sessions // 2)}, reverse=True)
        }
        ceiling = max(rate_n for rate_n, _cpu in ceilings.values())
        print(f"{'message size (bytes)':<34}{size:>12,}")
        for n, (rate_n, cpu_n) in ceilings.items():
            print(
                f"{'smtp-source (msg/s)':<34}{rate_n:>12,.0f}   ({n} connections;"
                f" smtp-source + smtp-sink CPU {cpu_n * 1e6:.0f} us a message)"
            )
        print(f"{'ratio to ceiling':<34}{rate / ceiling:>12.2f}   goal >= 0.70   (the higher)")
        succeeded = True
        return 0
    except subprocess.CalledProcessError as error:
        print(f"bench digest: {' '.join(map(str, error.cmd[:3]))} failed:\n{error.stderr}")
        return 1
    finally:
        stop_workers(workers if probe is None else [*workers, probe])
        if sink is not None:
            sink.stop()
        if succeeded:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench digest: worker logs kept in {workdir}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
