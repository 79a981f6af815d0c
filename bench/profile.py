"""Where an uncached page's time goes: `python -m bench profile [--quick] [--path=/topics/peru/]`.

Loads a copy of the `pages` corpus (100,000 articles; --quick: 10,000) in this process with
production settings and no page stored (CACHE_URL=dummy://), as the benchmark's "uncached"
rows, and sends requests straight to the WSGI application `pressroom serve` runs (no server, no
network). It prints the CPU per request, best of 5 runs, with the page's parts kept between
requests (the default) and with nothing kept (PAGE_CACHE_SECONDS=0), then pyinstrument's
profile of the first (of the second with --nothing-kept). With --against=PATH, it measures
the two pages in turn instead and prints their CPU ratio (what issue 14 point 7 bounds: an
article page at most 1.5x a topic page's). With --layers, it also measures each
memo of bench/layers.py switched off on its own, on the page it serves: in one process, best of
5, these figures move far less with other load on the machine than a server's. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bench import pages

RUNS = 5
# Rounds of --against: more than RUNS, so that the median of their ratios settles.
COMPARED_ROUNDS = 11


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench profile")
    parser.add_argument("--quick", action="store_true", help="the 10,000-article corpus")
    parser.add_argument(
        "--path",
        default="/topics/peru/",
        help="the page to profile; 'article' for the benchmark's article (lead image, three "
        "corrections, related articles: bench/pages.py's prepare_article)",
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per run")
    parser.add_argument(
        "--nothing-kept", action="store_true", help="profile with PAGE_CACHE_SECONDS=0"
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help="measure a cached hit instead (the page stored, default cache), and stop",
    )
    parser.add_argument(
        "--against",
        default="",
        help="another page (/topics/peru/) measured in turn with --path, and their CPU ratio",
    )
    parser.add_argument(
        "--layers",
        default="",
        help="memos to measure switched off, one at a time (comma-separated; 'all')",
    )
    parser.add_argument(
        "--database",
        default="",
        help="measure this copy of the corpus (bench pages passes its own) instead of a new copy",
    )
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pressroom-profile-") as temporary:
        work = Path(temporary)
        if options.database:
            database = Path(options.database)
        else:
            corpus = pages.build_corpus(10_000 if options.quick else 100_000, 300)
            database = work / "pressroom.sqlite3"
            shutil.copyfile(corpus, database)
        pages.ensure_static_files(work, database)
        if "article" in (options.path, options.against):
            article = pages.prepare_article(work, database)
            print(f"the benchmark's article (lead image, 3 corrections, related): {article}")
            options.path = article if options.path == "article" else options.path
            options.against = article if options.against == "article" else options.against
        extra = {} if options.cached else pages.UNCACHED
        os.environ.update(pages.app_environment(work, database, **extra))
        os.environ["DJANGO_SETTINGS_MODULE"] = "pressroom.settings"
        import django

        django.setup()
        from django.test.utils import override_settings
        from pyinstrument import Profiler

        from pressroom.wsgi import application

        def request() -> None:
            get(application, options.path)

        if options.cached:
            hit = cpu_ms_per_request(request, options.requests * 10)
            print(f"{options.path}, a cached hit, in-process CPU (best of {RUNS}): {hit:.4f} ms")
            return 0

        if options.against:
            compare(application, options.path, options.against, options.requests)
            return 0

        nothing_kept = override_settings(PAGE_CACHE_SECONDS=0)
        kept = cpu_ms_per_request(request, options.requests)
        with nothing_kept:
            bare = cpu_ms_per_request(request, options.requests)
        if options.nothing_kept:
            nothing_kept.enable()
        print(f"{options.path}, page cache off, in-process CPU per request (best of {RUNS}):")
        print(f"  parts of the page kept between requests: {kept:6.2f} ms")
        print(f"  nothing kept:                            {bare:6.2f} ms")
        if options.layers:
            measure_memos(options.layers, options.requests, options.path)

        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(options.requests):
            request()
        profiler.stop()
        print(
            profiler.output_text(
                color=False,
                time="percent_of_total",
                processor_options={
                    "filter_threshold": float(os.environ.get("PROFILE_THRESHOLD", "0.02"))
                },
            )
        )
    return 0


# The page each memo is measured on: the one where it does the most.
MEMO_PAGES = {
    "teasers": "/topics/peru/",
    "owners": "/topics/peru/",
    "fragments": "/topics/peru/",
    "navigation": "/",
    "banner": "/topics/peru/",
    # An article page: the one --path names (the corpus's articles differ with its size).
    "records": "article",
    "related": "article",
}


def measure_memos(names: str, count: int, article: str) -> None:
    from bench import layers
    from pressroom.wsgi import application

    wanted = list(MEMO_PAGES) if names == "all" else names.split(",")
    print()
    print("| memo | page | CPU ms kept | CPU ms switched off | off/kept |")
    print("|---|---|---|---|---|")
    for name in wanted:
        path = article if MEMO_PAGES[name] == "article" else MEMO_PAGES[name]

        def request(path: str = path) -> None:
            get(application, path)

        with_memo = cpu_ms_per_request(request, count)
        layers.keep(name, False)
        try:
            without = cpu_ms_per_request(request, count)
        finally:
            layers.keep(name, True)
        print(f"| {name} | {path} | {with_memo:.3f} | {without:.3f} | {without / with_memo:.2f}x |")


def compare(application: Callable, path: str, against: str, count: int) -> None:
    """`path` and `against`, parts kept, measured in turn (best of COMPARED_ROUNDS rounds of each), so
    that other load on the machine weighs on both alike; and the ratio of their CPU."""
    best = {path: float("inf"), against: float("inf")}
    # Each round's own ratio too: both pages of a round ran under the same load, so the
    # median of those ratios moves less with other work on the machine than either figure.
    round_ratios = []
    for _ in range(COMPARED_ROUNDS):
        this_round = {}
        for page in best:
            run = cpu_ms_per_request(lambda page=page: get(application, page), count, runs=1)
            best[page] = min(best[page], run)
            this_round[page] = run
        round_ratios.append(this_round[path] / this_round[against])
    print(f"in-process CPU per request, parts kept, best of {COMPARED_ROUNDS} alternated rounds:")
    for page, cpu in best.items():
        print(f"  {page}: {cpu:.3f} ms")
    ratio = best[path] / best[against]
    rounds = ", ".join(f"{value:.2f}" for value in round_ratios)
    print(f"  each round's ratio: {rounds}; median {statistics.median(round_ratios):.2f}x")
    print(f"  ratio: {ratio:.2f}x (issue 14 point 7: an article at most 1.5x a topic page)")


def get(application: Callable, path: str) -> bytes:
    """The body of a GET of `path`, asked for as wrk does (no compression)."""
    path_info, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    body: Iterable[bytes] = application(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()  # as a server does: Django's request_finished runs
    if not statuses or not statuses[0].startswith("200"):
        raise SystemExit(f"bench profile: {path} answered {statuses[:1]}, not 200 OK")
    return content


def cpu_ms_per_request(request: Callable[[], None], count: int, runs: int = RUNS) -> float:
    """The CPU the requesting thread spends per request, best of `runs`. The thread's own
    time (not the process's): the page-view counter's flushing thread (lib/counting.py) wakes
    every few seconds, and its CPU would land on whichever page is measured then."""
    for _ in range(20):  # warm-up: templates, connections, memos
        request()
    best = float("inf")
    for _ in range(runs):
        started = time.thread_time()
        for _ in range(count):
            request()
        best = min(best, (time.thread_time() - started) * 1000 / count)
    return best
