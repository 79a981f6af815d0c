"""What keeping revisions costs: `python -m bench revisions [--articles=N]`.

In one process on a fresh SQLite database (CPU time, best of 3, alternating, so other load on
the machine moves both figures alike):

- bulk writes (the importers' path, `save_articles` in batches of 500): N new articles with
  WXR-like bodies, with revision recording on and switched off; the difference is what a first
  import pays (goal: under 15% more CPU; an imported article gets its revision 1 at its first
  edit, so this is close to nothing);
- storage: an article of about 6 KB edited 200 times in the admin's path (a word changed, a
  sentence added, a paragraph removed), its revisions' stored bytes against its size (goal:
  under 20x), and the CPU of one such save with its revision.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.wxr import paragraph

RUNS = 3
BATCH = 500
GOAL_BULK_OVERHEAD = 0.15
GOAL_STORAGE_RATIO = 20.0


def _setup(directory: Path) -> None:
    os.environ.update(
        {
            "PRESSROOM_VAR_DIR": str(directory),
            "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
            "PRESSROOM_DEV_SECRET": "1",
            "DJANGO_SETTINGS_MODULE": "pressroom.settings",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _bulk_cpu(articles: int, rng: random.Random, *, record: bool) -> float:
    from pressroom.publishing import services
    from pressroom.publishing.models import Article, Author, Topic

    topic = Topic.objects.get_or_create(name="Peru", slug="peru")[0]
    author = Author.objects.get_or_create(name="Ana", slug="ana")[0]
    bodies = [
        "".join(f"<p>{paragraph(rng)}</p>" for _ in range(rng.randint(3, 10)))
        for _ in range(articles)
    ]
    original = services._record_revisions
    if not record:
        services._record_revisions = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        started = time.process_time()
        for start in range(0, articles, BATCH):
            services.save_articles(
                [
                    services.ArticleWrite(
                        Article(
                            title=f"Story {rng.random()}",
                            body=body,
                            status="draft",
                        ),
                        author_ids=[author.pk],
                        topic_ids=[topic.pk],
                    )
                    for body in bodies[start : start + BATCH]
                ]
            )
        return time.process_time() - started
    finally:
        services._record_revisions = original  # type: ignore[assignment]
        Article.objects.all().delete()


def _storage(rng: random.Random) -> tuple[int, int, float]:
    """(article bytes, stored bytes, CPU seconds per save) for 200 edits."""
    from pressroom.publishing import revisions, services
    from pressroom.publishing.models import Article, Revision

    paragraphs = [paragraph(rng) for _ in range(12)]
    article = services.save_article(
        Article(title="Miners march on Lima", body="".join(f"<p>{p}</p>" for p in paragraphs))
    )
    started = time.process_time()
    for edit in range(200):
        index = rng.randrange(len(paragraphs))
        if edit % 10 == 9 and len(paragraphs) > 8:
            paragraphs.pop(index)
        elif edit % 7 == 6:
            paragraphs.insert(index, paragraph(rng))
        else:
            words = paragraphs[index].split(" ")
            words[rng.randrange(len(words))] = rng.choice(["strikers", "nurses", "farmers"])
            paragraphs[index] = " ".join(words)
        article.body = "".join(f"<p>{p}</p>" for p in paragraphs)
        services.save_article(article)
    per_save = (time.process_time() - started) / 200
    rows = list(Revision.objects.of(article))
    size = sum(len(str(getattr(article, name)).encode()) for name in revisions.SNAPSHOT_FIELDS)
    stored = sum(len(row.data) + len(row.changed) + len(row.note) + 60 for row in rows)
    return size, stored, per_save


def main(argv: list[str]) -> int:
    articles = 5_000
    for arg in argv:
        if arg.startswith("--articles="):
            articles = int(arg.split("=", 1)[1])
    directory = Path(tempfile.mkdtemp(prefix="pressroom-bench-revisions-"))
    try:
        _setup(directory)
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        with_revisions, without = [], []
        for run in range(RUNS):
            without.append(_bulk_cpu(articles, random.Random(run), record=False))
            with_revisions.append(_bulk_cpu(articles, random.Random(run), record=True))
        best_with, best_without = min(with_revisions), min(without)
        overhead = best_with / best_without - 1
        print(f"{'bulk write of':<34} {articles} articles, batches of {BATCH}, CPU best of {RUNS}")
        print(f"{'  without revisions':<34} {best_without:8.2f} s")
        print(f"{'  with revisions recorded':<34} {best_with:8.2f} s  (+{overhead:.1%})")
        size, stored, per_save = _storage(random.Random(13))
        ratio = stored / size
        print(
            f"200 edits of a {size} byte article: {stored} bytes of revisions ({ratio:.1f}x); "
            f"{per_save * 1000:.1f} ms CPU per save"
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    verdict = []
    if overhead >= GOAL_BULK_OVERHEAD:
        verdict.append(f"SLOW: revisions add {overhead:.0%} to bulk writes")
    if ratio >= GOAL_STORAGE_RATIO:
        verdict.append(f"LARGE: revisions take {ratio:.1f}x the article")
    print("\n".join(verdict) or "goals met")
    return 1 if verdict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
