"""Partner feeds polled on their schedule while pages are served: `python -m bench partners
[--feeds=300] [--seconds=60] [--connections=16] [--workers=2] [--changed=10] [--new=2]
[--pairs=3]`.

A fresh SQLite site (the demo corpus, 300 articles) is served by `pressroom serve`; `--feeds`
partners each have a feed of 20 full-text items (with ETags, as real feeds have) on a feed
server in a process of its own at the lowest priority (nice 19): a remote host, which in
production does not share our CPU, takes as little of it here as the machine allows.

1. What one poll of one feed costs the worker in CPU (measured in one process, the feed server
   apart): the first fetch (20 new items, the heaviest poll there is), an unchanged feed (304
   Not Modified), a changed feed with `--new` new items of 20, and a changed feed whose items
   are all known.
2. The real schedule (the goal): wrk loads the cached topic page for `--seconds`, in
   alternating windows idle, polling, idle, ... (`--pairs` polling windows, each between two
   idle ones, judged against their mean: the median of those ratios is the figure). Before each polling window every feed is
   made due at an even spread over 30 minutes (Feed.interval_minutes' default) and `--changed`
   percent of the feeds gain `--new` items; a real `pressroom worker` (at the Nice=10 of
   deploy/systemd/pressroom-worker.service) fetches them as `poll_partner_feeds` hands them out,
   the bench queueing that task every minute as the worker's scheduler does. Before each idle
   window nothing is due. 300 feeds every 30 minutes is 0.17 a second.
3. The same schedule compressed 30 times (a stress figure, not the goal): each polling window
   holds a full round of every feed (300 in 60 s, 5 a second), the task queued every 2 seconds.
4. The worst case: every feed due again as soon as a round ends (continuous polling, rounds
   back to back, every round with changed feeds).

Goal (issue 15): page requests per second while polling on the real schedule at least 95% of
idle.
Not part of the test suite. Ports 8250 (site) and 8251 (feeds).
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    refuse_taken_port,
    serve,
    stop,
    wait_for_port,
)

PORT = 8250
FEED_PORT = 8251
ITEMS_PER_FEED = 20
GOAL = 0.95
# A feed's default polling interval (Feed.interval_minutes): one round of every feed.
FEED_SCHEDULE_SECONDS = 30 * 60
# The worker's niceness in deploy/systemd/pressroom-worker.service (Nice=): background work
# yields the CPU to page serving.
WORKER_NICE = 10
# The feed server stands for remote hosts: lowest priority, so it takes only CPU left over.
FEED_SERVER_NICE = 19


def option(argv: list[str], name: str, default: int) -> int:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return int(arg.split("=", 1)[1])
    return default


# Titles made of these, so that no two partners' pieces are near-identical (which would merge).
WORDS = [
    *("miners", "farmers", "teachers", "dockworkers", "nurses", "students", "water", "land"),
    *("lithium", "copper", "strike", "assembly", "march", "court", "ruling", "election"),
    *("census", "drought", "flood", "harvest", "union", "cooperative"),
]


def title(number: int, item: int) -> str:
    words = random.Random(number * 100_000 + item).sample(WORDS, 7)
    return " ".join(words).capitalize() + f" ({number}.{item})"


def feed_body(number: int, version: int, new_per_version: int) -> bytes:
    """Feed `number` at `version`: its 20 newest items, `new_per_version` more each version."""
    newest = version * new_per_version + ITEMS_PER_FEED - 1
    items = "".join(
        f"""<item><title>{title(number, item)}</title><link>https://partner{number}.example/news/{item}</link>
<guid>p{number}-{item}</guid><pubDate>Sun, 29 Nov 2026 {item % 24:02d}:00:00 GMT</pubDate>
<dc:creator>Reporter {item % 7}</dc:creator><description>Summary {item} of partner {number}.
</description><content:encoded><![CDATA[{"<p>Paragraph of the story, as partners send it.</p>" * 12}]]>
</content:encoded></item>"""
        for item in range(newest, newest - ITEMS_PER_FEED, -1)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Partner {number}</title>{items}</channel></rss>"
    ).encode()


def run_feed_server(port: int, feeds: int, new_per_version: int) -> None:
    """The feeds, each at a version; GET /change?percent=P&round=R moves P% of them (a
    different share each round) one version on; /hits says how many feed requests came."""
    versions = [0] * feeds
    cache: dict[tuple[int, int], bytes] = {}
    hits = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/change":
                arguments = dict(part.split("=") for part in query.split("&"))
                percent, round_number = int(arguments["percent"]), int(arguments["round"])
                step = max(1, round(100 / percent)) if percent else 0
                changed = [n for n in range(feeds) if step and n % step == round_number % step]
                for number in changed:
                    versions[number] += 1
                return self.answer(200, {}, str(len(changed)).encode())
            if path == "/hits":
                return self.answer(200, {}, str(hits[0]).encode())
            number = int(path.removeprefix("/feeds/").removesuffix(".xml"))
            with lock:
                hits[0] += 1
            version = versions[number]
            etag = f'"{number}-{version}"'
            if self.headers.get("If-None-Match") == etag:
                return self.answer(304, {"ETag": etag}, b"")
            body = cache.get((number, version))
            if body is None:
                body = cache[number, version] = feed_body(number, version, new_per_version)
            return self.answer(200, {"Content-Type": "application/rss+xml", "ETag": etag}, body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def start_feed_server(feeds: int, new_per_version: int) -> subprocess.Popen:
    refuse_taken_port(FEED_PORT)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bench.partners import run_feed_server; "
            f"run_feed_server({FEED_PORT}, {feeds}, {new_per_version})",
        ],
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=lambda: os.nice(FEED_SERVER_NICE),
    )
    wait_for_port(FEED_PORT, process)
    return process


def feed_server_call(path: str) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{FEED_PORT}{path}", timeout=30) as answer:
        return int(answer.read())


SETUP = """
from pressroom.partners import services
base = {base!r}
for number in range({feeds}):
    services.add_partner(f"Partner {{number}}", [f"{{base}}/feeds/{{number}}.xml"], full_text=True)
"""

# One poll of one feed, in this process (the feed server is another): CPU time per poll.
COST = """
import time
from pressroom.partners import polling
from pressroom.partners.models import Feed
from pressroom.partners.tasks import FEEDS_PER_TASK
ids = list(Feed.objects.order_by("pk").values_list("pk", flat=True))
feeds = len(ids)

def cost(label, feed_ids, change=None):
    if change is not None:
        change()
    cpu, wall, news, queries = time.process_time(), time.perf_counter(), 0, 0
    # As the worker's task does: FEEDS_PER_TASK feeds in turn, one read of the recent titles.
    for start in range(0, len(feed_ids), FEEDS_PER_TASK):
        for result in polling.fetch_feeds(feed_ids[start : start + FEEDS_PER_TASK]):
            assert not result.error, result.error
            news += result.new
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"  {{label:<46}} {{cpu * 1000 / len(feed_ids):7.2f}} ms CPU "
          f"{{wall * 1000 / len(feed_ids):7.2f}} ms wall per feed ({{news / len(feed_ids):.1f}} new)",
          flush=True)

import urllib.request
def change(round_number):
    def call():
        urllib.request.urlopen({feed_base!r} + f"/change?percent=100&round={{round_number}}").read()
    return call

def forget_etags():
    Feed.objects.update(etag="", last_modified="")

cost("first fetch: 20 new items", ids[: {sample}])
cost("unchanged feed: 304 Not Modified", ids[: {sample}])
cost("changed feed: {new} new items of 20", ids[: {sample}], change(0))
cost("changed feed, every item known", ids[: {sample}], forget_etags)
"""

POLLER = """
import time
from pressroom.partners.tasks import poll_partner_feeds
# What the worker's scheduler does every minute (cron); every 2 seconds when the due times are
# compressed by the same factor (30: 300 feeds in 60 s instead of 30 minutes).
while True:
    poll_partner_feeds.enqueue()
    time.sleep({interval})
"""

# Nothing due (before an idle window of the real schedule, whose rounds outlast a window).
NOTHING_DUE = """
from datetime import timedelta
from django.utils import timezone
from pressroom.partners.models import Feed
Feed.objects.update(next_fetch_at=timezone.now() + timedelta(days=1))
"""

SPREAD = """
from datetime import timedelta
from django.utils import timezone
from pressroom.partners.models import Feed
start = timezone.now() + timedelta(seconds={delay})
ids = list(Feed.objects.order_by("?").values_list("pk", flat=True))
for index, feed_id in enumerate(ids):
    Feed.objects.filter(pk=feed_id).update(
        next_fetch_at=start + timedelta(seconds={seconds} * index / len(ids))
    )
"""

CONTINUOUS = """
import time
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pressroom.partners.models import Feed
from pressroom.partners.tasks import poll_partner_feeds
import urllib.request
deadline = time.monotonic() + {seconds}
rounds = 0
while time.monotonic() < deadline:
    if not (DBTaskResult.objects.ready().exists() or DBTaskResult.objects.running().exists()):
        rounds += 1
        urllib.request.urlopen({feed_base!r} + f"/change?percent={percent}&round={{rounds + 100}}")
        Feed.objects.update(next_fetch_at=timezone.now())
        poll_partner_feeds.enqueue()
    time.sleep(0.5)
print(rounds)
"""


@dataclass
class Window:
    result: Result
    polling: bool
    feeds: int = 0
    worker_cpu_ms: float = 0.0  # the worker's and its scheduler's, warm-up included


class Alternation:
    """Windows of wrk on the cached topic page, idle, polling, idle, polling, with the worker's
    CPU and the feeds fetched in each."""

    def __init__(
        self,
        env: dict[str, str],
        url: str,
        seconds: int,
        connections: int,
        pids: list[int],
        warm_up: int,
        feeds: int,
        changed: int,
    ) -> None:
        self.env, self.url, self.seconds, self.connections = env, url, seconds, connections
        self.pids, self.warm_up, self.feeds, self.changed = pids, warm_up, feeds, changed
        self.rounds = 0

    def windows(
        self, worker_pids: list[int], spread: int, compressed: bool, pairs: int = 2
    ) -> list[Window]:
        """`pairs` of idle and polling windows and a last idle one (each polling window then
        has idle ones on both sides); `spread`: the seconds over which every feed falls due,
        from a polling window's start."""
        windows: list[Window] = []
        for number, polling in enumerate([False, True] * pairs + [False]):
            self.rounds += 1
            label = f"{'polling' if polling else 'idle'} {number // 2 + 1}"
            if polling:
                feed_server_call(f"/change?percent={self.changed}&round={self.rounds}")
                code = SPREAD.format(delay=self.warm_up, seconds=spread)
            else:
                code = NOTHING_DUE
            subprocess.run(
                [str(BIN / "pressroom"), "shell", "--no-imports", "-c", code],
                env=self.env,
                check=True,
                cwd=ROOT,
            )
            hits, cpu = feed_server_call("/hits"), cpu_of(worker_pids)
            result = measure(label, self.url, self.seconds, self.connections, self.pids)
            # Feeds fetched from the warm-up's start to the window's end.
            polled = feed_server_call("/hits") - hits
            worker_cpu = cpu_of(worker_pids) - cpu
            windows.append(Window(result, polling, polled, worker_cpu * 1000))
            if polling and compressed:
                # The round's stragglers are fetched before the next idle window.
                deadline = time.monotonic() + 300
                while feed_server_call("/hits") - hits < self.feeds and time.monotonic() < deadline:
                    time.sleep(0.5)
            print(
                f"    {polled} feeds polled in the window; worker and scheduler CPU "
                f"{worker_cpu * 1000:.0f} ms"
                + (f", {worker_cpu * 1000 / polled:.1f} ms per feed" if polled else ""),
                flush=True,
            )
        return windows


def mean(values: Iterable[float]) -> float:
    found = list(values)
    return sum(found) / len(found) if found else 0.0


def summarise(label: str, windows: list[Window], seconds: int, warm_up: int, feeds: int) -> float:
    """Print the windows and their comparison; polling's req/s as a share of idle's."""
    idle = [w for w in windows if not w.polling]
    busy = [w for w in windows if w.polling]
    idle_rate = mean(w.result.requests_per_second for w in idle)
    busy_rate = mean(w.result.requests_per_second for w in busy)
    # Each polling window against the idle windows on either side of it, the median of those:
    # other load on the machine drifts over minutes, and a neighbour shares most of it.
    ratios = sorted(
        windows[index].result.requests_per_second
        / mean(w.result.requests_per_second for w in (windows[index - 1], windows[index + 1]))
        for index in range(1, len(windows) - 1)
        if windows[index].polling
    )
    ratio = statistics.median(ratios) if ratios else 0.0
    print(f"{label}:")
    for window in windows:
        kind = "polling" if window.polling else "idle   "
        extra = f"  {window.feeds} feeds polled" if window.polling else ""
        print(
            f"  {kind} {window.result.requests_per_second:>9.0f} req/s  "
            f"{window.result.cpu_ms_per_request:.3f} ms server CPU/request{extra}"
        )
    polled = sum(w.feeds for w in busy)
    span = seconds + warm_up
    # What load elsewhere on the machine does not change: the CPU polling itself took (the
    # worker's in polling windows less in idle ones), as a share of the machine's CPU. When
    # page serving is CPU-bound this bounds the slowdown polling can cause.
    extra_ms = mean(w.worker_cpu_ms for w in busy) - mean(w.worker_cpu_ms for w in idle)
    share = max(extra_ms, 0.0) / 1000 / span / (os.cpu_count() or 1)
    print(
        f"  idle {idle_rate:.0f} req/s, polling {busy_rate:.0f} req/s; each polling window "
        f"against its idle neighbours: {', '.join(f'{r:.1%}' for r in ratios)}; median "
        f"{ratio:.1%} of idle (goal >= {GOAL:.0%}); {polled} feeds polled in {len(busy)} windows of {span} s "
        f"({polled / len(busy) / span:.2f}/s; the real schedule: {feeds / FEED_SCHEDULE_SECONDS:.2f}/s); "
        f"server CPU per request {mean(w.result.cpu_ms_per_request for w in idle):.3f} ms idle, "
        f"{mean(w.result.cpu_ms_per_request for w in busy):.3f} ms polling; polling's own CPU "
        f"{share:.2%} of the machine's {os.cpu_count()} cores"
    )
    return ratio


def shell(env: dict[str, str], code: str, **options: object) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "pressroom"), "shell", "-c", code],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[call-overload]
    )


def cpu_of(pids: list[int]) -> float:
    from bench.pages import cpu_seconds

    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def main(argv: list[str]) -> int:
    feeds = option(argv, "feeds", 300)
    seconds = option(argv, "seconds", 60)
    connections = option(argv, "connections", 16)
    workers = option(argv, "workers", 2)
    changed = option(argv, "changed", 10)
    new = option(argv, "new", 2)
    pairs = option(argv, "pairs", 3)
    corpus = build_corpus(300, 12)
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-partners-") as directory:
        work = Path(directory)
        database = work / "pressroom.sqlite3"
        database.write_bytes(corpus.read_bytes())
        ensure_static_files(work, database)
        (work / "var").mkdir()
        env = app_environment(
            work / "var", database, OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true", LOG_LEVEL="ERROR"
        )
        pressroom = str(BIN / "pressroom")
        feed_base = f"http://127.0.0.1:{FEED_PORT}"
        feed_server = start_feed_server(feeds, new)
        site = worker = scheduler = None
        try:
            # The stored corpus may predate this tree's migrations.
            subprocess.run([pressroom, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
            subprocess.run(
                [pressroom, "shell", "-c", SETUP.format(base=feed_base, feeds=feeds)],
                env=env,
                check=True,
                cwd=ROOT,
            )
            print("One poll of one feed, in the worker's code (CPU of that process alone):")
            sample = min(feeds, 100)
            subprocess.run(
                [
                    pressroom,
                    "shell",
                    "-c",
                    COST.format(sample=sample, new=new, feed_base=feed_base),
                ],
                env=env,
                check=True,
                cwd=ROOT,
            )
            # Every feed fetched once (as after the first day): the windows poll steady state.
            subprocess.run(
                [
                    pressroom,
                    "shell",
                    "-c",
                    "from pressroom.partners import polling; polling.fetch_partner()",
                ],
                env=env,
                check=True,
                cwd=ROOT,
            )
            site = serve(env, PORT, workers)
            url = f"http://127.0.0.1:{PORT}/topics/peru/"
            pids = process_tree(site.pid)
            worker_log = (work / "worker.log").open("w")
            worker = subprocess.Popen(
                [pressroom, "worker", "--no-scheduler"],
                env=env,
                cwd=ROOT,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: os.nice(WORKER_NICE),
            )
            print(
                f"\n{feeds} feeds of {ITEMS_PER_FEED} items, {changed}% of them with {new} new "
                f"items each round; wrk -t2 -c{connections} -d{seconds}s on {url}; "
                f"pressroom serve --workers {workers}; pressroom worker at nice {WORKER_NICE}, "
                f"feed server at nice {FEED_SERVER_NICE}",
                flush=True,
            )
            warm_up = max(2, seconds // 5)
            run = Alternation(env, url, seconds, connections, pids, warm_up, feeds, changed)
            # The real schedule (the goal): every feed once in FEED_SCHEDULE_SECONDS, the
            # scheduler's task every minute, as in production.
            scheduler = shell(
                env,
                POLLER.format(interval=60),
                start_new_session=True,
                preexec_fn=lambda: os.nice(WORKER_NICE),
            )
            time.sleep(5)  # its start-up is not in the first window
            worker_pids = process_tree(worker.pid) + process_tree(scheduler.pid)
            print("At the real schedule (the goal):", flush=True)
            real = run.windows(
                worker_pids, spread=FEED_SCHEDULE_SECONDS, compressed=False, pairs=pairs
            )
            stop(scheduler)
            # The schedule compressed 30 times (a stress figure): a full round of every feed
            # in each polling window, the scheduler's task every 2 seconds.
            scheduler = shell(
                env,
                POLLER.format(interval=2),
                start_new_session=True,
                preexec_fn=lambda: os.nice(WORKER_NICE),
            )
            time.sleep(5)
            worker_pids = process_tree(worker.pid) + process_tree(scheduler.pid)
            print("The schedule compressed 30 times (stress, not the goal):", flush=True)
            compressed = run.windows(worker_pids, spread=max(1, seconds - 2), compressed=True)
            stop(scheduler)
            scheduler = None
            # The worst case: rounds back to back, every feed due again at once.
            continuous = shell(
                env,
                CONTINUOUS.format(
                    seconds=seconds + warm_up + 5, feed_base=feed_base, percent=changed
                ),
            )
            time.sleep(3)
            hits = feed_server_call("/hits")
            worst = measure("continuous polling (worst case)", url, seconds, connections, pids)
            worst_polled = feed_server_call("/hits") - hits
            continuous.communicate(timeout=300)
        finally:
            for process in (scheduler, worker, site, feed_server):
                if process is not None:
                    stop(process)
            if os.environ.get("BENCH_DEBUG") and (work / "worker.log").exists():
                print((work / "worker.log").read_text()[-5000:])
        print()
        ratio = summarise("at the real schedule (the goal)", real, seconds, warm_up, feeds)
        print()
        summarise("compressed 30 times (stress)", compressed, seconds, warm_up, feeds)
        idle_rate = mean(w.result.requests_per_second for w in compressed if not w.polling)
        worst_ratio = worst.requests_per_second / idle_rate if idle_rate else 0.0
        print(
            f"worst case, not the goal: continuous polling {worst.requests_per_second:.0f} req/s, "
            f"{worst_ratio:.1%} of idle, {worst_polled} feeds polled "
            f"({worst_polled / seconds:.1f}/s); server CPU per request "
            f"{worst.cpu_ms_per_request:.3f} ms"
        )
        return 0 if ratio >= GOAL else 1
