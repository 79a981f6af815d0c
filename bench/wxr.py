"""WordPress import throughput and memory: `python -m bench wxr [--posts=N] [--keep]`.

Writes a WXR export of N posts (default 20,000: classic and block-editor bodies, captions,
shortcodes, nested categories, tags, authors) into a temporary directory, migrates a fresh
SQLite database there and runs `pressroom import_wxr` on it twice (first import, then an
unchanged re-run), each as its own process. Reports wall time, posts per second, CPU time per
post (the importer and its reader process together: the figure that survives a shared machine's
noise) and the peak RSS of the importer and of its reader process (importers.pipeline), and
their sum, and where the time went (the command's -v 2 `timings` line: the importer's CPU on
the media library pass, its seconds committing and waiting for the reader, when the first
posts came, the reader's CPU and how long it waited with a full queue, i.e. ran ahead).
Goals: at least 1,000 posts/s (issue 10), first import under 60 s, peak memory (the
sum) under 400 MB.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

GOAL_SECONDS = 60.0
GOAL_MEMORY_MB = 400.0
GOAL_POSTS_PER_SECOND = 1000.0
WORDS = [
    "strike",
    "miners",
    "union",
    "wages",
    "march",
    "city",
    "council",
    "water",
    "land",
    "rights",
    "protest",
    "teachers",
    "health",
    "workers",
    "farmers",
    "river",
    "mine",
    "police",
    "court",
    "election",
    "reform",
    "community",
    "assembly",
    "housing",
    "rent",
    "students",
    "climate",
    "drought",
    "harvest",
    "cooperative",
    "newspaper",
    "radio",
    "delegates",
    "minister",
    "budget",
    "hospital",
    "nurses",
    "transport",
    "fares",
    "road",
    "blockade",
    "negotiation",
    "agreement",
    "dispute",
    "solidarity",
]


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 22))
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def classic_body(rng: random.Random, post_id: int, posts: int) -> str:
    parts = [paragraph(rng) for _ in range(rng.randint(3, 9))]
    if rng.random() < 0.4:
        parts.insert(
            1,
            f'[caption id="attachment_{post_id}" align="alignnone" width="800"]'
            f'<img src="https://old.example.org/wp-content/uploads/2019/05/photo-{post_id}.jpg"'
            f' alt="Photo {post_id}" width="800" height="533" /> {sentence(rng)}[/caption]',
        )
    if rng.random() < 0.3 and post_id > 40:
        # Images attached to earlier posts (every tenth post has one; see write_export).
        first = post_id - post_id % 10
        ids = ",".join(str(posts + first - 10 * n) for n in range(3))
        parts.append(f'[gallery ids="{ids}"]')
    if rng.random() < 0.3:
        parts.insert(2, f"<blockquote>{sentence(rng)}\n{sentence(rng)}</blockquote>")
    # Classic-editor content: single newlines inside paragraphs, blank lines between them.
    return "\n\n".join(part.replace(". ", ".\n", 1) for part in parts)


def block_body(rng: random.Random) -> str:
    blocks = []
    for _ in range(rng.randint(3, 9)):
        blocks.append(f"<!-- wp:paragraph -->\n<p>{paragraph(rng)}</p>\n<!-- /wp:paragraph -->")
    blocks.insert(1, f"<!-- wp:heading -->\n<h2>{sentence(rng)}</h2>\n<!-- /wp:heading -->")
    return "\n\n".join(blocks)


def featured_image(post_id: int, posts: int) -> str:
    """Every tenth post has a featured image, written (as WordPress does) after the post."""
    if post_id % 10:
        return ""
    return (
        "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
        f"<wp:meta_value>{posts + post_id}</wp:meta_value></wp:postmeta>"
    )


# The opening of a WordPress 1.2 export of the benchmarks' old blog (bench/wxrmedia.py too).
EXPORT_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
    'xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
    "<title>Bench Blog</title><link>https://old.example.org</link>\n"
    "<wp:wxr_version>1.2</wp:wxr_version>\n"
    "<wp:base_site_url>https://old.example.org</wp:base_site_url>\n"
    "<wp:base_blog_url>https://old.example.org</wp:base_blog_url>\n"
)


def write_export(path: Path, posts: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    authors = [f"reporter{n}" for n in range(25)]
    parents = [f"region-{n}" for n in range(12)]
    categories = [(slug, "") for slug in parents] + [
        (f"{parent}-city-{n}", parent) for parent in parents for n in range(5)
    ]
    tags = [f"tag-{n}" for n in range(400)]
    start = datetime(2012, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        out.write(EXPORT_HEADER)
        for login in authors:
            out.write(
                f"<wp:author><wp:author_login>{login}</wp:author_login>"
                f"<wp:author_display_name><![CDATA[{login.title()} Writer]]>"
                "</wp:author_display_name></wp:author>\n"
            )
        for slug, parent in categories:
            out.write(
                f"<wp:category><wp:category_nicename>{slug}</wp:category_nicename>"
                f"<wp:category_parent>{parent}</wp:category_parent>"
                f"<wp:cat_name><![CDATA[{slug.replace('-', ' ').title()}]]></wp:cat_name>"
                "</wp:category>\n"
            )
        for slug in tags:
            out.write(
                f"<wp:tag><wp:tag_slug>{slug}</wp:tag_slug>"
                f"<wp:tag_name><![CDATA[{slug}]]></wp:tag_name></wp:tag>\n"
            )
        for post_id in range(1, posts + 1):
            date = start + timedelta(minutes=post_id * 17)
            title = sentence(rng).rstrip(".")
            slug = "-".join(title.lower().split()[:6])
            body = block_body(rng) if post_id % 3 == 0 else classic_body(rng, post_id, posts)
            status = rng.choices(["publish", "draft", "private", "future"], [90, 6, 2, 2])[0]
            if status == "future":
                date = datetime.now(UTC) + timedelta(days=rng.randint(1, 30))
            stamp = date.strftime("%Y-%m-%d %H:%M:%S")
            terms = "".join(
                f'<category domain="category" nicename="{c}"><![CDATA[{c}]]></category>'
                for c, _ in rng.sample(categories, 2)
            ) + "".join(
                f'<category domain="post_tag" nicename="{t}"><![CDATA[{t}]]></category>'
                for t in rng.sample(tags, rng.randint(1, 6))
            )
            out.write(
                f"<item><title>{escape(title)}</title>"
                f"<link>https://old.example.org/{date:%Y/%m/%d}/{slug}/</link>"
                f"<dc:creator><![CDATA[{rng.choice(authors)}]]></dc:creator>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded>"
                "<excerpt:encoded><![CDATA[]]></excerpt:encoded>"
                f"<wp:post_id>{post_id}</wp:post_id><wp:post_date>{stamp}</wp:post_date>"
                f"<wp:post_date_gmt>{stamp}</wp:post_date_gmt><wp:post_name>{slug}</wp:post_name>"
                f"<wp:status>{status}</wp:status><wp:post_type>post</wp:post_type>"
                "<wp:post_password></wp:post_password>"
                f"{featured_image(post_id, posts)}{terms}</item>\n"
            )
            if post_id % 10 == 0:
                out.write(
                    f"<item><title>photo-{post_id}</title>"
                    f"<wp:post_id>{posts + post_id}</wp:post_id><wp:status>inherit</wp:status>"
                    "<wp:post_type>attachment</wp:post_type>"
                    "<wp:attachment_url>https://old.example.org/wp-content/uploads/"
                    f"photo-{post_id}.jpg</wp:attachment_url></item>\n"
                )
        out.write("</channel>\n</rss>\n")


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run `command`; return wall seconds, its CPU seconds, its peak RSS in MB and its output.

    CPU time is reported beside wall time because the machine may be shared: wall time then
    measures the neighbours as much as the importer."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output}")
    # ru_maxrss is in kilobytes on Linux.
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def _children(pid: int) -> list[int]:
    """The processes `pid` started (Linux's /proc): the reader process and its helpers."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime, the 14th and 15th fields of the line (12th and 13th after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakWatcher(threading.Thread):
    """Reads the peak RSS of a process and of each of its children while it runs (VmHWM only
    grows: the last reading, 50 ms or less before the end, is the peak), and the children's
    CPU time (its last reading too)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.own = 0.0
        self.children: dict[int, float] = {}
        self.children_cpu: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.own = max(self.own, _peak_rss_mb(self.pid))
            for child in _children(self.pid):
                self.children[child] = max(self.children.get(child, 0.0), _peak_rss_mb(child))
                cpu = _cpu_seconds(child)
                self.children_cpu[child] = max(self.children_cpu.get(child, 0.0), cpu)

    def largest_child(self) -> float:
        return max(self.children.values(), default=0.0)


def run_importer(
    command: list[str], env: dict[str, str]
) -> tuple[float, float, float, float, float, str]:
    """run_measured for a process with a reader process: wall seconds, CPU seconds of both and
    of the children alone, the peak RSS in MB of the process and of its largest child, and its
    output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watcher = PeakWatcher(process.pid)
    watcher.start()
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    watcher.done.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output}")
    # The CPU time wait4 gives includes the children the process waited for (the reader). Its
    # ru_maxrss is the largest of them all: the watcher's reading of the process alone is used.
    own = watcher.own or usage.ru_maxrss / 1024
    children_cpu = sum(watcher.children_cpu.values())
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, children_cpu, own, watcher.largest_child(), output


def main(argv: list[str]) -> int:
    posts = 20_000
    keep = "--keep" in argv
    for arg in argv:
        if arg.startswith("--posts="):
            posts = int(arg.split("=", 1)[1])
    pressroom = str(Path(sys.executable).with_name("pressroom"))
    directory = Path(tempfile.mkdtemp(prefix="pressroom-bench-wxr-"))
    env = {
        **os.environ,
        "PRESSROOM_VAR_DIR": str(directory),
        "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "PRESSROOM_DEV_SECRET": "1",
    }
    export = directory / "export.xml"
    started = time.perf_counter()
    write_export(export, posts)
    size_mb = export.stat().st_size / 1024 / 1024
    print(f"generated {posts} posts, {size_mb:.1f} MB, in {time.perf_counter() - started:.1f} s")
    run_measured([pressroom, "migrate", "--no-input", "-v", "0"], env)
    load_before = " ".join(f"{load:.1f}" for load in os.getloadavg())

    status = 0
    rows = []
    timing_lines: list[tuple[str, str]] = []
    for label in ("first import", "re-run (unchanged)"):
        seconds, cpu, reader_cpu, own_mb, reader_mb, output = run_importer(
            [pressroom, "import_wxr", "-v", "2", str(export)], env
        )
        posts_line = next(line for line in output.splitlines() if line.startswith("posts"))
        # Where the importer waited (for the reader's batches, on SQLite's commits) and the
        # reader's own account: the command's -v 2 line.
        timings = next((line for line in output.splitlines() if line.startswith("timings")), "")
        rows.append(
            (label, seconds, cpu, reader_cpu, posts / seconds, own_mb, reader_mb, posts_line)
        )
        timing_lines.append((label, timings))
    print(f"load average before: {load_before}")
    # CPU ms/post: importer + reader, then the importer's alone, which bounds the rate on a
    # machine with a core free for the reader.
    print(
        f"{'run':<20} {'wall s':>7} {'CPU s':>6} {'importer':>9} {'reader':>7}"
        f" {'CPU ms/post':>12} {'importer':>9} {'posts/s':>8}"
        f" {'RSS MB importer':>16} {'reader':>7} {'sum':>5}"
    )
    for label, seconds, cpu, reader_cpu, rate, own_mb, reader_mb, _ in rows:
        own_cpu = cpu - reader_cpu
        print(
            f"{label:<20} {seconds:>7.1f} {cpu:>6.1f} {own_cpu:>9.1f} {reader_cpu:>7.1f}"
            f" {cpu / posts * 1000:>12.2f} {own_cpu / posts * 1000:>9.2f} {rate:>8.0f}"
            f" {own_mb:>16.0f} {reader_mb:>7.0f} {own_mb + reader_mb:>5.0f}"
        )
    for label, *_, posts_line in rows:
        print(f"  {label}: {posts_line}")
    for label, timings in timing_lines:
        print(f"  {label}: {timings}")
    first_seconds, first_rate = rows[0][1], rows[0][4]
    first_peak = max(row[5] + row[6] for row in rows)
    verdict = []
    if first_rate < GOAL_POSTS_PER_SECOND:
        verdict.append(
            f"SLOW: first import at {first_rate:.0f} posts/s (goal >= {GOAL_POSTS_PER_SECOND:.0f})"
        )
        status = 1
    if first_seconds >= GOAL_SECONDS:
        verdict.append(f"SLOW: first import took {first_seconds:.1f} s (goal < {GOAL_SECONDS:.0f})")
        status = 1
    if first_peak >= GOAL_MEMORY_MB:
        verdict.append(f"HEAVY: peak RSS {first_peak:.0f} MB (goal < {GOAL_MEMORY_MB:.0f})")
        status = 1
    print(
        "\n".join(verdict)
        or f"goals met: >= {GOAL_POSTS_PER_SECOND:.0f} posts/s, < {GOAL_SECONDS:.0f} s,"
        f" < {GOAL_MEMORY_MB:.0f} MB"
    )
    if keep:
        print(f"kept {directory}")
    else:
        for path in sorted(directory.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        directory.rmdir()
    return status
