"""Old WordPress addresses, resolved in process: `python -m bench legacy [--addresses=N]
[--posts=N]`.

Imports a generated export (`--posts`, default 3,000, 10 a page) into a fresh SQLite database,
lists every address family of it (pressroom.importers.addresses: posts, ?p=, pages, tags,
categories, their feeds and pages, authors, dates, search, query forms) and asks the app for
`--addresses` of them (default 100,000, the families cycled in a fixed shuffle) through Django's
test client, in process. Reports requests per second and CPU per redirect (in all, and apart
for answers the page cache had stored and for those it had not), next to the CPU of a cached
page (the topic page, served by the page cache) measured in the same run: the goal is that a
redirect costs no more than a cached page.

`--cache=redis` (the default when redis-server is installed, as in the production recipe) starts
a Redis for the run; `--cache=locmem` uses the embedded default, whose 5,000 entries cannot hold
the 8,225 addresses of the default export: asked in a cycle, each one is evicted before it is
asked again, so every request is a first answer (see docs/performance.md).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.pages import app_environment, stop, wait_for_port

CACHED_REQUESTS = 20_000
PORT_REDIS = 8231


def main(argv: list[str]) -> int:
    default_cache = "redis" if shutil.which("redis-server") else "locmem"
    cache = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--cache=")), None)
    cache = cache or default_cache
    if cache not in ("redis", "locmem"):
        print("bench legacy: --cache is redis or locmem.")
        return 2
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-legacy-") as directory:
        work = Path(directory)
        # The content generation moves on at least every PAGE_CACHE_SECONDS (60 by default),
        # and one pass over 8,225 addresses takes longer than that: every answer would be a first
        # answer. An hour keeps the window open for the run, as for a site that changes rarely.
        env = app_environment(
            work / "var", work / "bench.sqlite3", PAGE_CACHE_SECONDS="3600", LOG_LEVEL="ERROR"
        )
        (work / "var").mkdir()
        redis = None
        if cache == "redis":
            redis = subprocess.Popen(
                [
                    *("redis-server", "--port", str(PORT_REDIS), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no"),
                ],
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
            wait_for_port(PORT_REDIS, redis)
            env["CACHE_URL"] = f"redis://127.0.0.1:{PORT_REDIS}/0"
        print(f"cache: {cache}")
        try:
            return subprocess.run(
                [sys.executable, "-m", "bench.legacy", *argv], env=env, check=False
            ).returncode
        finally:
            if redis is not None:
                stop(redis)


def option(argv: list[str], name: str, default: int) -> int:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return int(arg.split("=", 1)[1])
    return default


def run(argv: list[str]) -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from pressroom.importers.addresses import export_addresses
    from pressroom.importers.tests.legacy_export import generated_export
    from pressroom.lib.pagecache.pages import forget_memory

    total = option(argv, "addresses", 100_000)
    posts = option(argv, "posts", 3_000)
    call_command("migrate", "--no-input", verbosity=0)
    export = Path(os.environ["PRESSROOM_VAR_DIR"]) / "export.xml"
    export.write_bytes(generated_export(posts, per_page=10))
    started = time.perf_counter()
    call_command("import_wxr", str(export), stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"imported {posts} posts in {time.perf_counter() - started:.1f} s")
    with export.open("rb") as source:
        addresses = list(export_addresses(source, per_page=10))
    random.Random(21).shuffle(addresses)
    families = Counter(family for family, _ in addresses)
    print(f"{len(addresses)} distinct old addresses in {len(families)} families")
    client = Client(HTTP_HOST="localhost")

    plan = [addresses[index % len(addresses)] for index in range(total)]
    statuses: Counter[int] = Counter()
    # CPU per request by how the page cache answered it: "miss" (the address resolved from the
    # database, then stored), "hit" (a stored answer), anything else (not stored: 404s).
    by_cache: dict[str, list[float]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for _, path in plan:
        started = time.process_time()
        response = client.get(path)
        spent = time.process_time() - started
        statuses[response.status_code] += 1
        by_cache.setdefault(response.get("X-Page-Cache", "none"), []).append(spent)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    page = "/topics/world/"
    assert client.get(page).status_code == 200  # warms the page cache
    page_wall, page_cpu = time.perf_counter(), time.process_time()
    for _ in range(CACHED_REQUESTS):
        client.get(page)
    page_wall, page_cpu = time.perf_counter() - page_wall, time.process_time() - page_cpu
    # The same page from the shared cache (Redis), as a stored answer is when the addresses
    # asked outnumber what the process keeps in memory (pagecache.pages.MEMORY_BYTES).
    shared_cpu = 0.0
    for _ in range(CACHED_REQUESTS):
        forget_memory()
        started = time.process_time()
        client.get(page)
        shared_cpu += time.process_time() - started

    per_redirect = cpu / total * 1e6
    per_page = page_cpu / CACHED_REQUESTS * 1e6
    print(f"answers: {dict(sorted(statuses.items()))} (301 redirect, 410 gone, 200 own address)")
    print(f"{'':<28}{'requests':>10}{'req/s':>10}{'CPU µs/req':>12}")
    print(f"{'legacy addresses':<28}{total:>10}{total / wall:>10.0f}{per_redirect:>12.0f}")
    print(
        f"{'cached page ' + page:<28}{CACHED_REQUESTS:>10}"
        f"{CACHED_REQUESTS / page_wall:>10.0f}{per_page:>12.0f}"
    )
    if "Redis" in settings.CACHES["default"]["BACKEND"]:
        print(
            f"{'  from the shared cache':<28}{CACHED_REQUESTS:>10}{'':>10}"
            f"{shared_cpu / CACHED_REQUESTS * 1e6:>12.0f}"
        )
    for status, spent in sorted(by_cache.items()):
        print(
            f"{'  answered ' + status:<28}{len(spent):>10}{'':>10}"
            f"{sum(spent) / len(spent) * 1e6:>12.0f}"
        )
    print(f"redirect CPU / cached page CPU, all requests: {per_redirect / per_page:.2f}")
    if by_cache.get("hit"):
        stored = sum(by_cache["hit"]) / len(by_cache["hit"]) * 1e6
        print(
            f"stored redirect CPU / cached page CPU: {stored / per_page:.2f} (goal: at most 1.00;"
            " the misses are each address's first answer, and every address again after the"
            " content generation moves on, at least every PAGE_CACHE_SECONDS)"
        )
        if shared_cpu:
            shared = shared_cpu / CACHED_REQUESTS * 1e6
            print(
                f"stored redirect CPU / cached page CPU from the shared cache: {stored / shared:.2f}"
            )
    broken = total - statuses[301] - statuses[410] - statuses[200]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
