"""Fan-out of one article to the fediverse while pages are served: `python -m bench federation
[--followers=10000] [--instances=1000] [--seconds=20] [--workers=2] [--pairs=2]`.

A copy of the demo corpus (300 articles, SQLite) is served by `pressroom serve` on port 18100;
`--followers` followers are spread over `--instances` instances, each its own host: 127.0.x.y
(every 127/8 address is loopback on Linux), port 18101, all answered by one inbox server process
(asyncio, one listening socket per address, 202 for any POST, at nice 19: remote servers do not
share our CPU in production). `--workers` real `pressroom worker` processes (at the Nice=10 of
deploy/systemd/pressroom-worker.service) deliver, one task per shared inbox.

1. One article published (as an editor would, from another process) is timed until every
   instance has it: the time to deliver one article to all, deliveries per second, worker CPU
   per delivery, and the workers' peak memory (VmHWM).
2. wrk loads the cached topic page in alternating windows: idle, fan-out, idle, ... (`--pairs`
   fan-out windows). During a fan-out window articles are published one after the other, each
   as soon as the previous one has reached every instance, so the workers deliver throughout.
   Each fan-out window is held against the mean of its idle neighbours; the median is the
   figure (other load on a shared machine drifts over minutes).

Goals (issue 18): the cached topic page's req/s during the fan-out within 10% of idle (>= 90%);
our own bounds: one article to 1,000 instances within 60 s, each worker under 150 MB peak RSS.
Not part of the test suite. Ports 18100 (site) and 18101 (inboxes).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.pages import (
    BIN,
    ROOT,
    Result,
    app_environment,
    build_corpus,
    ensure_static_files,
    measure,
    process_tree,
    serve,
    stop,
)

PORT = 18100
INBOX_PORT = 18101
GOAL_RATIO = 0.90
GOAL_SECONDS = 60.0
GOAL_MEMORY_MB = 150.0
WORKER_NICE = 10
TOPIC = "peru"


def option(argv: list[str], name: str, default: int) -> int:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return int(arg.split("=", 1)[1])
    return default


def instance_host(number: int) -> str:
    return f"127.0.{1 + number // 250}.{1 + number % 250}"


# The inbox server: a process of its own (`python -m bench.federation --inbox-server N`).


def run_inbox_server(instances: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    received = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"POST"):
                received += 1
                reply = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            else:
                body = str(received).encode()
                reply = (
                    b"HTTP/1.1 200 OK\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
            writer.write(reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        hosts = ["127.0.0.1", *(instance_host(number) for number in range(instances))]
        server = await asyncio.start_server(answer, host=hosts, port=INBOX_PORT, backlog=512)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def inbox_count() -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{INBOX_PORT}/count", timeout=10) as answer:
        return int(answer.read())


# The site's side


FOLLOWERS_SCRIPT = """
from pressroom.federation.models import Follower
rows = []
for number in range({followers}):
    instance = number % {instances}
    host = "127.0.%d.%d" % (1 + instance // 250, 1 + instance % 250)
    actor = "http://%s:{port}/users/reader%d" % (host, number)
    rows.append(Follower(
        followed="site", actor_url=actor, inbox_url=actor + "/inbox",
        shared_inbox_url="http://%s:{port}/inbox" % host, domain="%s:{port}" % host,
    ))
Follower.objects.bulk_create(rows, batch_size=2000)
print(Follower.objects.count())
"""

# A long-lived editor: each line read publishes one article in the topic (as the admin's save
# does: publishing's services, then the after-commit announcement), and prints its id.
PUBLISHER = """
import sys
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
topic = Topic.objects.get(slug={topic!r})
for line in sys.stdin:
    article = services.save_article(
        Article(title="Fan-out " + line.strip(), body="<p>Published during the benchmark.</p>"),
        topics=[topic],
    )
    services.publish_article(article)
    print(article.pk, flush=True)
"""


class Publisher:
    def __init__(self, env: dict[str, str], database: Path) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "pressroom"), "shell", "--no-imports", "-c", PUBLISHER.format(topic=TOPIC)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.database = database
        self.count = 0

    def publish(self) -> int:
        self.count += 1
        assert self.process.stdin
        assert self.process.stdout
        self.process.stdin.write(f"{self.count}\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def delivered(self, article_id: int) -> int:
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as connection:
            return connection.execute(
                "SELECT count(*) FROM federation_delivery d JOIN federation_activity a "
                "ON a.id = d.activity_id WHERE a.article_id = ? AND d.state = 'delivered'",
                (article_id,),
            ).fetchone()[0]

    def wait_for(self, article_id: int, instances: int, timeout: float = 600) -> float:
        started = time.monotonic()
        while self.delivered(article_id) < instances:
            if time.monotonic() - started > timeout:
                raise SystemExit(f"bench: article {article_id} not delivered in {timeout:.0f} s")
            time.sleep(0.1)
        return time.monotonic() - started

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def cpu_of(pids: list[int]) -> float:
    from bench.pages import cpu_seconds

    return sum(cpu_seconds(pid) for pid in pids)


def peak_memory_mb(root_pids: list[int]) -> float:
    peak = 0.0
    for root in root_pids:
        for pid in process_tree(root):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--inbox-server":
        run_inbox_server(int(argv[1]))
        return 0
    followers = option(argv, "followers", 10_000)
    instances = option(argv, "instances", 1_000)
    seconds = option(argv, "seconds", 20)
    worker_count = option(argv, "workers", 2)
    pairs = option(argv, "pairs", 2)
    connections = option(argv, "connections", 16)
    corpus = build_corpus(300, 12)
    work = Path(tempfile.mkdtemp(prefix="bench-federation-"))
    database = work / "pressroom.sqlite3"
    shutil.copyfile(corpus, database)
    processes: list[subprocess.Popen] = []
    try:
        env = app_environment(
            work / "var",
            database,
            SITE_URL=f"http://127.0.0.1:{PORT}",
            OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true",
            OUTBOUND_RETRIES="0",
        )
        (work / "var").mkdir()
        ensure_static_files(work, database)
        subprocess.run(
            [str(BIN / "pressroom"), "migrate", "--no-input", "-v0"], env=env, check=True, cwd=ROOT
        )
        seeded = subprocess.run(
            [
                str(BIN / "pressroom"),
                "shell",
                "-c",
                FOLLOWERS_SCRIPT.format(followers=followers, instances=instances, port=INBOX_PORT),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        print(
            f"followers: {seeded} over {instances} instances (127.0.x.y:{INBOX_PORT})", flush=True
        )
        inbox_server = subprocess.Popen(
            [
                "nice",
                "-n",
                "19",
                sys.executable,
                "-m",
                "bench.federation",
                "--inbox-server",
                str(instances),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        processes.append(inbox_server)
        assert inbox_server.stdout
        assert inbox_server.stdout.readline().strip() == "ready"
        site = serve(env, PORT, 2)
        processes.append(site)
        workers = [
            subprocess.Popen(
                [
                    "nice",
                    "-n",
                    str(WORKER_NICE),
                    str(BIN / "pressroom"),
                    "worker",
                    "--no-scheduler",
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=(work / f"worker-{number}.log").open("w"),
                start_new_session=True,
            )
            for number in range(worker_count)
        ]
        processes.extend(workers)
        worker_pids = [worker.pid for worker in workers]
        publisher = Publisher(env, database)
        url = f"http://127.0.0.1:{PORT}/topics/{TOPIC}/"

        # 1. One article to every instance.
        received = inbox_count()
        cpu = cpu_of(worker_pids)
        article = publisher.publish()
        delivery_seconds = publisher.wait_for(article, instances)
        delivery_cpu = cpu_of(worker_pids) - cpu
        posts = inbox_count() - received
        print(
            f"one article to {instances} instances ({followers} followers): "
            f"{delivery_seconds:.1f} s (goal <= {GOAL_SECONDS:.0f} s), "
            f"{instances / delivery_seconds:.0f} deliveries/s with {worker_count} workers, "
            f"{delivery_cpu * 1000 / instances:.1f} ms worker CPU per delivery; "
            f"{posts} POSTs received (one per shared inbox: {instances})",
            flush=True,
        )

        # 2. The cached topic page, idle and during fan-out.
        windows: list[tuple[str, Result]] = []
        for number in range(2 * pairs + 1):
            fanning = number % 2 == 1
            stopping = threading.Event()
            published: list[int] = []

            def keep_publishing(stopping: threading.Event, published: list[int]) -> None:
                while not stopping.is_set():
                    article_id = publisher.publish()
                    published.append(article_id)
                    publisher.wait_for(article_id, instances)

            thread = threading.Thread(
                target=keep_publishing, args=(stopping, published), daemon=True
            )
            if fanning:
                thread.start()
            label = f"{'fan-out' if fanning else 'idle'} {number // 2 + 1}"
            posts_before, worker_cpu = inbox_count(), cpu_of(worker_pids)
            windows.append((label, measure(label, url, seconds, connections, [site.pid])))
            posts = inbox_count() - posts_before
            worker_cpu = cpu_of(worker_pids) - worker_cpu
            print(
                f"    {posts} deliveries during the window ({posts / (seconds + max(2, seconds // 5)):.0f}/s "
                f"with wrk's warm-up), worker CPU {worker_cpu:.1f} s",
                flush=True,
            )
            if fanning:
                stopping.set()
                thread.join(timeout=600)
                print(
                    f"    {len(published)} articles fanned out to {instances} instances each",
                    flush=True,
                )
        memory = peak_memory_mb(worker_pids)
        publisher.close()
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(work, ignore_errors=True)

    rates = [result.requests_per_second for _, result in windows]
    ratios = [
        rates[index] / ((rates[index - 1] + rates[index + 1]) / 2)
        for index in range(1, len(rates) - 1, 2)
    ]
    ratio = statistics.median(ratios)
    idle_cpu = statistics.mean(
        r.cpu_ms_per_request for label, r in windows if label.startswith("idle")
    )
    busy_cpu = statistics.mean(
        r.cpu_ms_per_request for label, r in windows if label.startswith("fan")
    )
    print(f"cached topic page, wrk -t2 -c{connections} -d{seconds}s:")
    for label, result in windows:
        print(
            f"  {label:<10} {result.requests_per_second:>9.0f} req/s  {result.cpu_ms_per_request:.3f} ms server CPU/request  errors {result.errors}"
        )
    print(
        f"fan-out against its idle neighbours: {', '.join(f'{r:.1%}' for r in ratios)}; "
        f"median {ratio:.1%} of idle (goal >= {GOAL_RATIO:.0%}); server CPU per request "
        f"{idle_cpu:.3f} ms idle, {busy_cpu:.3f} ms during fan-out"
    )
    print(f"worker peak memory (VmHWM): {memory:.0f} MB (goal < {GOAL_MEMORY_MB:.0f} MB)")
    met = ratio >= GOAL_RATIO and delivery_seconds <= GOAL_SECONDS and memory < GOAL_MEMORY_MB
    print("goals met" if met else "goals NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
