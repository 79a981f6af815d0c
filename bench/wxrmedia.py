"""WordPress import with its media: `python -m bench wxrmedia [--posts=N] [--width=W] [--keep]`.

Writes an export of N posts (default 2,000), each with its own photo (a W×2W/3 JPEG, default
1200×800, with a phone's metadata) as featured image and, in its body, a size WordPress made of
it (photo-600x400.jpg) inside a [caption]; and a copy of wp-content/uploads holding the N photos.
Then, each in its own process on a fresh SQLite database in a temporary directory:

1. `pressroom import_wxr FILE` (text only: images stay at their old URLs), the baseline;
2. `pressroom import_wxr FILE --media-dir DIR` on a second fresh database: every photo checked,
   stripped of its metadata and stored in the library, bodies rewritten, upload addresses
   redirected, renditions queued (made later by the worker, not measured here);
3. the same command again (nothing changed: no file is read again).

Reported: wall and CPU seconds, photos per second and peak RSS. Goals: the media import keeps
peak RSS under 400 MB, and within 100 MB of the text-only import (files are handled one at a
time, so memory does not grow with the number of photos).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.wxr import EXPORT_HEADER, run_measured

GOAL_MEMORY_MB = 400.0
GOAL_EXTRA_MB = 100.0

# Photos are made in a process of their own (a child's peak RSS includes its parent's at fork).
GENERATE = """
import io, random, sys
from PIL import Image, ImageDraw
from pressroom.media.tests.images import jpeg_with_gps
uploads, posts, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
height = width * 2 // 3
bases = [Image.open(io.BytesIO(jpeg_with_gps(width, height, seed=seed))) for seed in range(8)]
exif = bases[0].getexif()
for number in range(1, posts + 1):
    image = bases[number % len(bases)].copy()
    draw = ImageDraw.Draw(image)
    rng = random.Random(number)
    for _ in range(6):  # each photo its own bytes
        x, y = rng.randrange(width - 40), rng.randrange(height - 40)
        draw.rectangle((x, y, x + 40, y + 40), fill=tuple(rng.randrange(256) for _ in range(3)))
    folder = f"{uploads}/{2015 + number % 8}/{number % 12 + 1:02d}"
    image.save(f"{folder}/photo-{number}.jpg", "JPEG", quality=85, exif=exif)
"""


def write_export(path: Path, uploads: Path, posts: int, width: int) -> None:
    base = "https://old.example.org/wp-content/uploads"
    height = width * 2 // 3
    for year in range(2015, 2023):
        for month in range(1, 13):
            (uploads / str(year) / f"{month:02d}").mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write(EXPORT_HEADER)
        out.write("<wp:author><wp:author_login>reporter</wp:author_login></wp:author>\n")
        for number in range(1, posts + 1):
            folder = f"{2015 + number % 8}/{number % 12 + 1:02d}"
            url = f"{base}/{folder}/photo-{number}.jpg"
            small = f"{base}/{folder}/photo-{number}-600x{600 * height // width}.jpg"
            body = (
                f"First paragraph of story {number}, about the strike.\n\n"
                f'[caption id="attachment_{100_000 + number}" width="600"]'
                f'<img src="{small}" alt="" width="600" height="{600 * height // width}" /> '
                f"Marchers on day {number}.[/caption]\n\n"
                "Second paragraph, with the union's demands and the minister's answer.\n\n"
                "Third paragraph: the talks resume on Monday."
            )
            out.write(
                f"<item><title>Story {number}</title>"
                f"<link>https://old.example.org/2020/01/01/story-{number}/</link>"
                "<dc:creator><![CDATA[reporter]]></dc:creator>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded>"
                f"<wp:post_id>{number}</wp:post_id>"
                "<wp:post_date_gmt>2020-01-01 10:00:00</wp:post_date_gmt>"
                f"<wp:post_name>story-{number}</wp:post_name><wp:status>publish</wp:status>"
                "<wp:post_type>post</wp:post_type>"
                "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
                f"<wp:meta_value>{100_000 + number}</wp:meta_value></wp:postmeta></item>\n"
                f"<item><title>photo-{number}</title>"
                f"<link>https://old.example.org/2020/01/01/story-{number}/photo-{number}/</link>"
                f"<excerpt:encoded><![CDATA[Marchers on day {number}.]]></excerpt:encoded>"
                f"<wp:post_id>{100_000 + number}</wp:post_id>"
                f"<wp:post_parent>{number}</wp:post_parent><wp:status>inherit</wp:status>"
                f"<wp:post_type>attachment</wp:post_type><wp:attachment_url>{url}"
                "</wp:attachment_url>"
                "<wp:postmeta><wp:meta_key>_wp_attached_file</wp:meta_key>"
                f"<wp:meta_value>{folder}/photo-{number}.jpg</wp:meta_value></wp:postmeta>"
                "<wp:postmeta><wp:meta_key>_wp_attachment_image_alt</wp:meta_key>"
                f"<wp:meta_value>Marchers, day {number}</wp:meta_value></wp:postmeta></item>\n"
            )
        out.write("</channel>\n</rss>\n")


def main(argv: list[str]) -> int:
    posts, width, keep = 2000, 1200, "--keep" in argv
    for arg in argv:
        if arg.startswith("--posts="):
            posts = int(arg.split("=", 1)[1])
        if arg.startswith("--width="):
            width = int(arg.split("=", 1)[1])
    python = sys.executable
    pressroom = str(Path(python).with_name("pressroom"))
    directory = Path(tempfile.mkdtemp(prefix="pressroom-bench-wxrmedia-"))

    def environment(name: str) -> dict[str, str]:
        var = directory / name
        var.mkdir()
        return {
            **os.environ,
            "PRESSROOM_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
            "PRESSROOM_DEV_SECRET": "1",
        }

    try:
        export, uploads = directory / "export.xml", directory / "uploads"
        started = time.perf_counter()
        write_export(export, uploads, posts, width)
        subprocess.run(
            [python, "-c", GENERATE, str(uploads), str(posts), str(width)],
            env=environment("generate"),
            check=True,
        )
        size_mb = sum(p.stat().st_size for p in uploads.rglob("*.jpg")) / 1048576
        print(
            f"generated {posts} posts and {posts} photos of {width}x{width * 2 // 3} "
            f"({size_mb:.0f} MB) in {time.perf_counter() - started:.0f} s"
        )
        text, media = environment("text"), environment("media")
        for env in (text, media):
            run_measured([pressroom, "migrate", "--no-input", "-v", "0"], env)
        load_before = " ".join(f"{load:.1f}" for load in os.getloadavg())
        runs = [
            ("text only (baseline)", [pressroom, "import_wxr", str(export)], text),
            (
                "--media-dir",
                [pressroom, "import_wxr", str(export), "--media-dir", str(uploads)],
                media,
            ),
            (
                "--media-dir re-run",
                [pressroom, "import_wxr", str(export), "--media-dir", str(uploads)],
                media,
            ),
        ]
        rows = []
        for label, command, env in runs:
            seconds, cpu, peak_mb, output = run_measured(command, env)
            media_line = next(
                (line for line in output.splitlines() if line.startswith("media")), ""
            )
            rows.append((label, seconds, cpu, peak_mb, media_line))
        print(f"load average before: {load_before}")
        print(f"{'run':<22} {'wall s':>8} {'CPU s':>8} {'photos/s':>9} {'peak RSS MB':>12}")
        for label, seconds, cpu, peak_mb, _ in rows:
            print(
                f"{label:<22} {seconds:>8.1f} {cpu:>8.1f} {posts / seconds:>9.0f} {peak_mb:>12.0f}"
            )
        for label, *_, media_line in rows:
            print(f"  {label}: {media_line}")
        stored = media["PRESSROOM_VAR_DIR"] + "/media/originals"
        print(f"library originals stored: {len(os.listdir(stored))}")
        baseline, first = rows[0][3], rows[1][3]
        status, verdict = 0, []
        if first >= GOAL_MEMORY_MB:
            verdict.append(f"HEAVY: peak RSS {first:.0f} MB (goal < {GOAL_MEMORY_MB:.0f})")
            status = 1
        if first - baseline >= GOAL_EXTRA_MB:
            verdict.append(
                f"GROWS: {first - baseline:.0f} MB above the text-only import "
                f"(goal < {GOAL_EXTRA_MB:.0f})"
            )
            status = 1
        print(
            "\n".join(verdict)
            or f"goals met: peak RSS < {GOAL_MEMORY_MB:.0f} MB and "
            f"{first - baseline:+.0f} MB against the text-only import"
        )
        return status
    finally:
        if keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
