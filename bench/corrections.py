"""What corrections cost an article page: `python -m bench corrections [--articles=N]
[--corrections=N]`.

Takes the demo corpus of bench/pages.py (2,000 articles by default, built once into var/bench/),
copies it, and gives one published article `--corrections` corrections and updates (3 by
default) through `publishing.services.add_correction`, as an editor does. Then the page of that
article and of a published article of the same body length without corrections are asked of the
WSGI application in one process, uncached (CACHE_URL=dummy://, as the "uncached" rows of
bench/pages.py: no page stored, the parts a process keeps between renders on), best of 5 runs
each (bench/thumbnails.py's in-process measurement). Reported: CPU per request of each and the
ratio (issue 13: "article pages with corrections measured too").
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import pages
from bench.thumbnails import in_process_ms

# Runs in the copy's own environment: two published articles of about the same body length,
# corrections and updates on the first. Prints both addresses.
SETUP = """
import sys
import django
django.setup()
from django.db.models.functions import Length
from pressroom.publishing import services
from pressroom.publishing.models import Article, Correction
articles = list(
    Article.objects.published()
    .annotate(length=Length("body"))
    .order_by("length", "pk")
    .values_list("pk", flat=True)
)
middle = len(articles) // 2
corrected, plain = (Article.objects.get(pk=pk) for pk in articles[middle : middle + 2])
kinds = [Correction.Kind.CORRECTION, Correction.Kind.UPDATE, Correction.Kind.CLARIFICATION]
for number in range(int(sys.argv[1])):
    services.add_correction(
        corrected,
        f"An earlier version of this article gave the wrong figure ({number + 1}): "
        "the union counted 4,000 marchers, not 40,000.",
        kind=kinds[number % len(kinds)],
    )
print(corrected.get_absolute_url(), plain.get_absolute_url())
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench corrections")
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--corrections", type=int, default=3)
    options = parser.parse_args(argv)
    corpus = pages.build_corpus(options.articles, options.topics)
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-corrections-") as temporary:
        work = Path(temporary)
        database = work / "corrections.sqlite3"
        shutil.copyfile(corpus, database)
        (work / "var").mkdir()
        env = pages.app_environment(
            work / "var",
            database,
            CACHE_URL="dummy://",
            DJANGO_SETTINGS_MODULE="pressroom.settings",
        )
        made = subprocess.run(
            [sys.executable, "-c", SETUP, str(options.corrections)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=pages.ROOT,
        )
        corrected, plain = made.stdout.split()[-2:]
        print(f"article with {options.corrections} corrections: {corrected}; without: {plain}")
        # Alternated, so the neighbours' load falls on both alike.
        figures: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(2):
            figures["without"].append(in_process_ms(env, plain))
            figures["with"].append(in_process_ms(env, corrected))
    without, with_corrections = min(figures["without"]), min(figures["with"])
    print(f"{'article page, uncached':<40}{'CPU ms per request':>20}")
    print(f"{'  without corrections':<40}{without:>20.3f}")
    print(f"{f'  with {options.corrections} corrections':<40}{with_corrections:>20.3f}")
    print(f"ratio: {with_corrections / without:.2f}")
    return 0
