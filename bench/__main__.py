"""`python -m bench [NAME ...]`: run the named benchmarks, or all of them.

Each benchmark is a module in this package with a `main(argv: list[str]) -> int`; it prints its
own table. Benchmarks are never part of the test suite.
"""

import importlib
import sys

BENCHMARKS = [
    "pages",  # issue 6: page serving, cached and uncached, against static nginx
    "profile",  # issue 6: where an uncached page render spends its time (pyinstrument)
    "recipe",  # issue 6: nginx recipe + 2 app servers on PostgreSQL + Redis: publish-to-visible
    "wxr",  # issue 3: WordPress import throughput and memory
    "wxrmedia",  # issue 12: WordPress import of 2,000 posts with 2,000 photos (--media-dir)
    "digest",  # issue 4: digest sending to smtp-sink
    "rolling",  # issue 20: a rolling restart behind the nginx recipe counts 0 errors
    "renditions",  # issue 12: renditions of 12 MP photos, project vs minimal Pillow (and pyvips)
    "thumbnails",  # issue 12: the uncached topic page with 20 thumbnails against none
    "legacy",  # issue 21: old WordPress addresses resolved, against a cached page's CPU
    "revisions",  # issue 13: what revisions cost bulk writes and storage
    "corrections",  # issue 13: an article page with corrections against one without
    "partners",  # issue 15: page serving while a worker polls 300 partner feeds
    "theme",  # issue 14: the theme and standards tags: topic and article CPU against main
    "search",  # issue 17: search at 100,000 articles, SQLite and PostgreSQL, with bare SQL
    "mirror",  # issue 18: the static mirror of the 100,000-article corpus, full and incremental
    "federation",  # issue 18: one article to 10,000 followers on 1,000 instances, pages meanwhile
    "insight",  # issue 17: counting page views on against off; the beacon against the access log
]
# Run only when named (`make lighthouse`): it needs Node and npm, which `make bench` does not.
ON_REQUEST = ["lighthouse"]  # issue 14: Lighthouse (mobile) on home, topic, article, donate


def main(argv: list[str]) -> int:
    names = [arg for arg in argv if not arg.startswith("-")] or BENCHMARKS
    options = [arg for arg in argv if arg.startswith("-")]
    status = 0
    for name in names:
        if name not in BENCHMARKS + ON_REQUEST:
            print(f"bench: unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
            return 2
        print(f"== bench {name}", flush=True)
        status |= importlib.import_module(f"bench.{name}").main(options)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
