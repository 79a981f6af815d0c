"""The static mirror (issue 18): the corpus mirrored whole, then again after one article changed.

`make bench BENCH_ARGS=mirror` (or `python -m bench mirror [--articles=N] [--topics=N]`). The
corpus (100,000 articles, 300 topics by default) is bench/pages.py's, built once under
var/bench/; the mirror runs on a copy of it, so the change it makes never reaches the corpus.
Each run is a `pressroom mirror` process of its own: its wall time, CPU time (user + system)
and peak memory (maximum RSS) are read from the kernel when it ends. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.pages import BIN, app_environment, build_corpus

INCREMENTAL_GOAL_SECONDS = 10.0
# The mirror streams: what it holds is one page and the plan's small maps, whatever the size.
MEMORY_GOAL_MB = 400.0
BASE_URL = "https://mirror.example.org"
RENDERED = re.compile(r"mirror: (\d+) pages rendered, (\d+) written, (\d+) unchanged sources")

CHANGE_ONE_ARTICLE = """
from pressroom.publishing.models import Article
from pressroom.publishing.services import save_article
article = Article.objects.published().order_by("published_at", "id")[1000 % Article.objects.count()]
article.title = article.title + " (updated)"
save_article(article, require_alt_text=False)
print(article.slug)
"""


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_mb: float
    rendered: int
    written: int
    skipped: int


def mirror(env: dict[str, str], outdir: Path) -> Run:
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "pressroom"), "mirror", str(outdir), "--base-url", BASE_URL],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        print(f"  {line.rstrip()}", flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"bench mirror: pressroom mirror exited with {process.returncode}")
    figures = RENDERED.search("".join(output))
    rendered, written, skipped = (int(value) for value in figures.groups()) if figures else (0,) * 3
    return Run(
        seconds,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,  # kB on Linux
        rendered,
        written,
        skipped,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench mirror")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=300)
    args = parser.parse_args(argv)

    corpus = build_corpus(args.articles, args.topics)
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as temporary:
        work = Path(temporary)
        database = work / "pressroom.sqlite3"
        # A consistent copy of the corpus (its WAL included), which this benchmark may change.
        with sqlite3.connect(corpus) as source, sqlite3.connect(database) as copy:
            source.backup(copy)
        # Unbuffered: the command's progress lines show as they come.
        env = app_environment(work, database, MEDIA_ROOT=str(work / "media"), PYTHONUNBUFFERED="1")
        subprocess.run(
            [str(BIN / "pressroom"), "collectstatic", "--no-input", "-v0"], env=env, check=True
        )
        outdir = work / "mirror"

        print(f"full mirror of {args.articles} articles, {args.topics} topics:", flush=True)
        full = mirror(env, outdir)
        files = sum(1 for path in outdir.rglob("*") if path.is_file())
        changed = subprocess.run(
            [str(BIN / "pressroom"), "shell", "-c", CHANGE_ONE_ARTICLE],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"one article changed: {changed}; mirroring again:", flush=True)
        incremental = mirror(env, outdir)
        shutil.rmtree(outdir)

    per_thousand = full.cpu_seconds / max(full.rendered, 1) * 1000
    print()
    print(f"{'figure':<48} {'value':>12}  goal")
    print(f"{'full mirror: wall time':<48} {full.seconds:>10.1f} s  (reported)")
    print(f"{'full mirror: pages rendered / files in OUTDIR':<48} {full.rendered:>6} / {files}")
    print(f"{'full mirror: CPU time per 1,000 pages':<48} {per_thousand:>10.1f} s  (reported)")
    print(
        f"{'full mirror: peak memory (max RSS)':<48} {full.peak_mb:>9.0f} MB  "
        f"< {MEMORY_GOAL_MB:.0f} MB {'OK' if full.peak_mb < MEMORY_GOAL_MB else 'MISSED'}"
    )
    verdict = "OK" if incremental.seconds < INCREMENTAL_GOAL_SECONDS else "MISSED"
    print(
        f"{'incremental after one article changed: wall':<48} {incremental.seconds:>10.1f} s  "
        f"< {INCREMENTAL_GOAL_SECONDS:.0f} s {verdict}"
    )
    print(f"{'incremental: CPU time':<48} {incremental.cpu_seconds:>10.1f} s")
    print(
        f"{'incremental: pages rendered / written':<48} "
        f"{incremental.rendered:>6} / {incremental.written}"
    )
    print(f"{'incremental: peak memory (max RSS)':<48} {incremental.peak_mb:>9.0f} MB")
    return 0
