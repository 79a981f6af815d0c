"""What thumbnails cost a list page: the uncached topic page with 20 thumbnails against the same
page without images, side by side in one run. `make bench BENCH_ARGS=thumbnails` (or
`python -m bench thumbnails [--articles=N] [--seconds=S] [--rounds=R]`).

It takes the demo corpus of bench/pages.py (10,000 articles, 300 topics by default; built once
into var/bench/) and makes two copies: one as it is, and one where a library of 20 photos
(1600x1200 JPEGs added through media.services, every rendition made by the worker's own code)
gives every article a lead image. Each copy is served by `pressroom serve` (production
settings, as the "uncached" rows of bench/pages.py: no page stored, the parts each process keeps
between renders on), and the topic page ("Peru", 20 teasers) is loaded with wrk, alternating
between the two servers for a few rounds so that the neighbours' load falls on both alike.
The same is done with nothing kept between renders (PAGE_CACHE_SECONDS=0), where every
thumbnail is worked out on every request.

Reported: CPU per request of each server (user + system time of its process tree, the figure
other load changes least) and the ratio. Goal (issue 12, point 7): the uncached topic page with
20 thumbnails costs at most 1.2x the CPU of the same page without images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import pages

GOAL_RATIO = 1.2
PHOTOS = 20
# Clear of bench/pages.py's ports (8200-8299 are its, in use when it runs beside this).
PORTS = {"plain": 8341, "images": 8342, "plain, nothing kept": 8343, "images, nothing kept": 8344}

# Runs in the copy's own environment: a library of photos, their renditions made by the
# worker's job (media.renditions), and a lead image for every article of the corpus.
SETUP = """
import io, sys
import django
django.setup()
from django.db import connection
from pressroom.media import services
from pressroom.media.renditions import make_item_renditions
from pressroom.media.tests.images import photo
ids = []
for seed in range(int(sys.argv[1])):
    data = io.BytesIO()
    photo(1600, 1200, seed=seed).save(data, "JPEG", quality=85)
    item, _ = services.add_item_from_bytes(
        data.getvalue(), f"photo-{seed}.jpg", alt_text=f"Photo number {seed}", credit="Bench"
    )
    make_item_renditions(item.pk)
    ids.append(item.pk)
with connection.cursor() as cursor:
    for position, item_id in enumerate(ids):
        cursor.execute(
            "UPDATE publishing_article SET lead_image_id = %s WHERE id %% %s = %s",
            [item_id, len(ids), position],
        )
print(len(ids))
"""


# The same page asked of the WSGI application in one process (no server, no network), as
# bench/profile.py does: best of RUNS runs, a figure that moves far less with the neighbours'
# load than a server's.
IN_PROCESS = """
import io, sys, time
from pressroom.wsgi import application
path, requests, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
    "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
}
def request():
    body = application({**environ, "wsgi.input": io.BytesIO()}, lambda *args: None)
    return b"".join(body)
assert request().count(b"<picture>") in (0, 20)
best = float("inf")
for _ in range(runs):
    started = time.process_time()
    for _ in range(requests):
        request()
    best = min(best, (time.process_time() - started) * 1000 / requests)
print(best)
"""
IN_PROCESS_RUNS = 5
IN_PROCESS_REQUESTS = 300


def in_process_ms(env: dict[str, str], path: str) -> float:
    output = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, path, str(IN_PROCESS_REQUESTS), str(IN_PROCESS_RUNS)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=pages.ROOT,
    ).stdout
    return float(output.split()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench thumbnails")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    options = parser.parse_args(argv)
    if not Path(pages.WRK).exists():
        print(f"bench thumbnails: wrk is not installed ({pages.WRK}); apt install wrk")
        return 2
    for port in PORTS.values():
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                print(f"bench thumbnails: port {port} is in use (another run?)")
                return 2
    load_at_start = Path("/proc/loadavg").read_text().strip()
    corpus = pages.build_corpus(options.articles, options.topics)
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-thumbnails-") as temporary:
        work = Path(temporary)
        return run(corpus, work, options, load_at_start)


def run(corpus: Path, work: Path, options: argparse.Namespace, load_at_start: str) -> int:
    databases = {"plain": work / "plain.sqlite3", "images": work / "images.sqlite3"}
    for database in databases.values():
        shutil.copyfile(corpus, database)
    media_root = work / "media"
    env = pages.app_environment(
        work / "setup",
        databases["images"],
        MEDIA_ROOT=str(media_root),
        DJANGO_SETTINGS_MODULE="pressroom.settings",
    )
    (work / "setup").mkdir()
    print(f"library: {PHOTOS} photos of 1600x1200 and their renditions...", flush=True)
    made = subprocess.run(
        [sys.executable, "-c", SETUP, str(PHOTOS)],
        env=env,
        capture_output=True,
        text=True,
        cwd=pages.ROOT,
    )
    if made.returncode != 0 or made.stdout.split()[-1:] != [str(PHOTOS)]:
        print(f"bench thumbnails: making the library failed:\n{made.stderr}")
        return 1
    renditions = sum(1 for path in media_root.rglob("*") if path.is_file()) - PHOTOS
    print(f"library: {renditions} rendition files made; every article has a lead image")
    # Both copies compacted alike: the update of every article row leaves the images copy's
    # pages in its WAL and split, which made its keyset read twice as slow as the untouched
    # copy's and was measured as the thumbnails' cost.
    for database in databases.values():
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        with sqlite3.connect(database, isolation_level=None) as connection:
            connection.execute("VACUUM")
            connection.execute("ANALYZE")
        connection.close()
    pages.ensure_static_files(work, databases["plain"])

    servers: dict[str, subprocess.Popen] = {}
    results: dict[str, list[pages.Result]] = {name: [] for name in PORTS}
    try:
        for name, port in PORTS.items():
            kind = "images" if name.startswith("images") else "plain"
            extra = {**pages.UNCACHED, "MEDIA_ROOT": str(media_root)}
            if name.endswith("nothing kept"):
                extra.update(pages.NOTHING_KEPT)
            servers[name] = pages.start_serve(
                work, databases[kind], port, options.workers, extra, name=kind
            )
        topic = "/topics/peru/"  # the corpus's largest topic (see pages.find_urls)
        counts = {}
        for name, port in PORTS.items():
            html = pages.fetch(f"http://127.0.0.1:{port}{topic}").decode()
            counts[name] = (html.count('<li class="teaser">'), html.count("<picture>"))
        print(f"page {topic}: (teasers, thumbnails) {counts}", flush=True)
        if counts["images"] != (20, 20) or counts["plain"][1] != 0:
            print("bench thumbnails: the pages do not show what is to be compared")
            return 1
        load = (options.seconds, options.connections)
        for round_number in range(options.rounds):
            print(f"round {round_number + 1} of {options.rounds}", flush=True)
            for name, port in PORTS.items():
                url = f"http://127.0.0.1:{port}{topic}"
                results[name].append(
                    pages.measure(f"uncached topic, {name}", url, *load, [servers[name].pid])
                )
    finally:
        for server in servers.values():
            pages.stop(server)
    in_process: dict[str, list[float]] = {name: [] for name in PORTS}
    for _ in range(options.rounds):
        for name in PORTS:
            kind = "images" if name.startswith("images") else "plain"
            extra = {
                **pages.UNCACHED,
                "MEDIA_ROOT": str(media_root),
                "DJANGO_SETTINGS_MODULE": "pressroom.settings",
            }
            if name.endswith("nothing kept"):
                extra.update(pages.NOTHING_KEPT)
            env = pages.app_environment(work / "setup", databases[kind], **extra)
            in_process[name].append(in_process_ms(env, topic))
            print(f"  in process, {name:<22} {in_process[name][-1]:8.3f} ms CPU", flush=True)
    return report(results, in_process, options, load_at_start)


def report(
    results: dict[str, list[pages.Result]],
    in_process: dict[str, list[float]],
    options: argparse.Namespace,
    load_at_start: str,
) -> int:
    print()
    print(
        f"{options.articles} articles; topic page of 20 teasers; wrk -t2 -c{options.connections} "
        f"-d{options.seconds}s x {options.rounds} rounds, alternating; pressroom serve "
        f"--workers {options.workers}; load average before: {load_at_start}"
    )
    print(f"| {'server':<22} | {'req/s (median)':>14} | {'CPU ms/request (median)':>23} |")
    print(f"|{'-' * 24}|{'-' * 16}|{'-' * 25}|")
    median_cpu = {}
    for name, rows in results.items():
        median_cpu[name] = statistics.median(row.cpu_ms_per_request for row in rows)
        rate = statistics.median(row.requests_per_second for row in rows)
        print(f"| {name:<22} | {rate:>14.0f} | {median_cpu[name]:>23.3f} |")
    status = 0
    for kept in ("", ", nothing kept"):
        per_round = [
            with_images.cpu_ms_per_request / max(without.cpu_ms_per_request, 1e-9)
            for with_images, without in zip(
                results[f"images{kept}"], results[f"plain{kept}"], strict=True
            )
        ]
        ratio = median_cpu[f"images{kept}"] / max(median_cpu[f"plain{kept}"], 1e-9)
        rounds = ", ".join(f"{value:.2f}" for value in per_round)
        label = "uncached" + kept
        print(f"{label}: with 20 thumbnails / without: {ratio:.2f}x CPU (rounds: {rounds})")
        best_with, best_without = min(in_process[f"images{kept}"]), min(in_process[f"plain{kept}"])
        print(
            f"  in process (best of {options.rounds}x{IN_PROCESS_RUNS} runs of "
            f"{IN_PROCESS_REQUESTS}): {best_with:.3f} / {best_without:.3f} ms = "
            f"{best_with / best_without:.2f}x"
        )
        if not kept:
            if ratio <= GOAL_RATIO:
                print(f"goal met: {ratio:.2f}x <= {GOAL_RATIO}x")
            else:
                print(f"SLOW: {ratio:.2f}x > {GOAL_RATIO}x (goal)")
                status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
