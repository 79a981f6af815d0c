"""What the theme and the standards tags cost a page: the uncached topic page (20 teasers) and
an article page rendered by this tree against the same pages rendered by another revision's
code (default `main`), on the same corpus, in alternating rounds. `make bench BENCH_ARGS=theme`
(or `python -m bench theme [--against=REV] [--requests=N] [--rounds=R]`).

Each side is a process of its own that answers requests through Django's whole stack (the test
client: every middleware, the context processors, the templates) with no page stored
(`CACHE_URL=dummy://`: the parts each process keeps between renders are kept, as in the
"uncached" rows of bench/pages.py). Reported: CPU seconds per request (process time) of each
side, the ratio, and the bytes of the page's inline <style> (the theme, which costs no request
of its own). Goal (issue 14): the uncached topic page within 15% of its CPU before.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import pages

GOAL_RATIO = 1.15

RENDER = """
import json, sys, time
import django
django.setup()
from django.test import Client
client = Client()
paths = json.loads(sys.argv[1])
count = int(sys.argv[2])
result = {}
for path in paths:
    for _ in range(30):  # warm: the kept parts, the template loader
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    started = time.process_time()
    for _ in range(count):
        client.get(path)
    result[path] = (time.process_time() - started) / count
html = client.get(paths[0]).content.decode()
style = html.split("<style>", 1)[1].split("</style>", 1)[0] if "<style>" in html else ""
result["style_bytes"] = len(style.encode())
print(json.dumps(result))
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench theme")
    parser.add_argument("--against", default="main")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--articles", type=int, default=2000)
    options = parser.parse_args(argv)
    database = pages.build_corpus(options.articles, 50)
    with tempfile.TemporaryDirectory(prefix="bench-theme-") as scratch:
        work = Path(scratch)
        other = work / "other"
        other.mkdir()
        archive = subprocess.run(
            ["git", "archive", options.against], cwd=pages.ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
        sides = {"this tree": pages.ROOT, options.against: other}
        environments: dict[str, tuple[dict[str, str], Path]] = {}
        for name, tree in sides.items():
            var_dir = work / f"var-{len(environments)}"
            var_dir.mkdir()
            copy = var_dir / "pressroom.sqlite3"
            shutil.copy(database, copy)
            env = pages.app_environment(
                var_dir,
                copy,
                CACHE_URL="dummy://",
                ALLOWED_HOSTS="testserver",
                PYTHONPATH=str(tree),
                STATIC_ROOT=str(var_dir / "static"),
                DJANGO_SETTINGS_MODULE="pressroom.settings",
            )
            subprocess.run(
                [sys.executable, "-m", "pressroom.cli", "collectstatic", "--no-input", "-v0"],
                env=env,
                cwd=tree,
                check=True,
            )
            environments[name] = (env, tree)
        paths = find_paths(environments["this tree"])
        print(f"pages: {', '.join(paths)}; {options.requests} requests a round", flush=True)
        times: dict[str, dict[str, list[float]]] = {name: {} for name in sides}
        style: dict[str, int] = {}
        for _ in range(options.rounds):
            for name, (env, tree) in environments.items():
                output = subprocess.run(
                    [sys.executable, "-c", RENDER, json.dumps(paths), str(options.requests)],
                    env=env,
                    cwd=tree,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                style[name] = result.pop("style_bytes")
                for path, seconds in result.items():
                    times[name].setdefault(path, []).append(seconds)
    status = 0
    print(f"| page | {options.against} (ms CPU) | this tree (ms CPU) | ratio |")
    print("|---|---|---|---|")
    for label, path in zip(("topic page", "article page"), paths, strict=True):
        before = statistics.median(times[options.against][path]) * 1000
        after = statistics.median(times["this tree"][path]) * 1000
        ratio = after / before
        print(f"| {label} | {before:.2f} | {after:.2f} | {ratio:.2f} |")
        if label == "topic page" and ratio > GOAL_RATIO:
            status = 1
    print(f"inline <style>: {style['this tree']} bytes (uncompressed) on this tree")
    print(f"goal: topic page at most {GOAL_RATIO}x: {'met' if status == 0 else 'NOT met'}")
    return status


def find_paths(side: tuple[dict[str, str], Path]) -> list[str]:
    """The topic page with the most articles and the newest article, as the corpus has them."""
    env, tree = side
    script = (
        "import django; django.setup()\n"
        "from django.db.models import Count\n"
        "from pressroom.publishing.models import Article, Topic\n"
        "topic = Topic.objects.annotate(n=Count('articles')).order_by('-n').first()\n"
        "article = Article.objects.published().order_by('-published_at').first()\n"
        "print(topic.get_absolute_url(), article.get_absolute_url())\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return output.split()
