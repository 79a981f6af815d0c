"""Lighthouse in mobile mode on the pages readers land on: `make lighthouse`
(or `python -m bench lighthouse [--keep]`).

Builds a demo site in a temporary directory (the demo corpus, a few generated photos as lead
images, one inside an article's body, renditions made by `pressroom worker --batch`), serves it
with `pressroom serve` (production settings), and runs Lighthouse 12 (tools/lighthouse, from
npm, `npm ci` on first use) with Debian's chromium on the home page, a topic page, an article
with images and the donate page. Prints a table and checks issue 14's budget: performance >= 95,
accessibility 100, best practices >= 95, SEO 100, CLS < 0.05, a topic page's HTML + CSS + JS under
60 KB as transferred (compressed), and no render-blocking JavaScript. Not part of the test suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import pages

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools" / "lighthouse"
LIGHTHOUSE = TOOLS / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
PORT = 8260
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
BUDGET = {"performance": 95, "accessibility": 100, "best-practices": 95, "seo": 100}
MAX_CLS = 0.05
MAX_TOPIC_BYTES = 60 * 1024
# Photos made here (no network, no file in the repository): deterministic gradients with a
# little texture, in the sizes a phone camera or a wire photo would give after export.
SETUP = """
import io, random
from PIL import Image, ImageDraw
from pressroom.media.services import add_item_from_bytes
from pressroom.publishing.models import Article
from pressroom.publishing.services import save_article

def photo(seed):
    rng = random.Random(seed)
    image = Image.new("RGB", (1600, 1067))
    draw = ImageDraw.Draw(image)
    top, bottom = [rng.randrange(40, 220) for _ in range(3)], [rng.randrange(20, 200) for _ in range(3)]
    for y in range(1067):
        mix = y / 1066
        draw.line([(0, y), (1600, y)], fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom)))
    for _ in range(40):
        x, y, r = rng.randrange(1600), rng.randrange(1067), rng.randrange(20, 160)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()

newest = list(Article.objects.published().order_by("-published_at")[:9])
items = [
    add_item_from_bytes(photo(seed), f"demo-photo-{seed}.jpg", alt_text=f"Demo photograph {seed}",
                        caption=f"Marchers on the road, day {seed}.", credit="Pressroom demo")[0]
    for seed in range(1, 10)
]
for article, item in zip(newest, items):
    article.lead_image = item
    save_article(article)
first = newest[0]
first.body += (
    f'<figure><img src="{items[-1].url}" alt="{items[-1].alt_text}">'
    f"<figcaption>{items[-1].caption}</figcaption></figure>"
    "<p>More reporting follows the photograph.</p>"
)
save_article(first)
print(first.get_absolute_url())
"""


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            print(f"bench lighthouse: {tool} is not installed (apt install nodejs npm).")
            return 2
    if not Path(CHROMIUM).exists():
        print(f"bench lighthouse: needs Debian's chromium at {CHROMIUM} (apt install chromium).")
        return 2
    if not LIGHTHOUSE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--quiet"], cwd=TOOLS, check=True)
    work = Path(tempfile.mkdtemp(prefix="pressroom-lighthouse-"))
    server = None
    try:
        database = work / "pressroom.sqlite3"
        env = pages.app_environment(work, database)
        pressroom = str(pages.BIN / "pressroom")
        subprocess.run([pressroom, "migrate", "--no-input", "-v0"], env=env, check=True)
        subprocess.run(
            [pressroom, "collectstatic", "--no-input", "-v0"], env=env, check=True, cwd=ROOT
        )
        subprocess.run(
            [pressroom, "demo", "--articles", "300"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        article = (
            subprocess.run(
                [pressroom, "shell", "-c", SETUP],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        subprocess.run(
            [pressroom, "worker", "--batch", "-v0"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = pages.serve(env, PORT, workers=2)
        base = f"http://127.0.0.1:{PORT}"
        urls = {
            "home": "/",
            "topic": topic_path(base),
            "article with images": article,
            "donate": "/donate/",
        }
        reports = {
            name: run_lighthouse(base + path, work / f"{i}.json")
            for i, (name, path) in enumerate(urls.items())
        }
        return print_report(urls, reports)
    finally:
        if server is not None:
            pages.stop(server)
        if keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def topic_path(base: str) -> str:
    """The topic with the most articles, from the topics page (as a reader would find it)."""
    import re

    html = pages.fetch(base + "/topics/").decode()
    found = re.findall(r'href="(/topics/[^"/]+/)"', html)
    if not found:
        raise SystemExit("bench lighthouse: the topics page lists no topic")
    return found[0]


def run_lighthouse(url: str, output: Path) -> dict:
    subprocess.run(
        [
            "node",
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={output}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu "
            "--disable-background-networking --disable-component-update --no-first-run",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
    )
    return json.loads(output.read_text())


def page_bytes(report: dict) -> int:
    """HTML + CSS + JS as transferred (compressed), the page's own requests only."""
    requests = report["audits"]["network-requests"]["details"]["items"]
    kinds = {"Document", "Stylesheet", "Script"}
    return sum(
        int(item.get("transferSize", 0)) for item in requests if item.get("resourceType") in kinds
    )


def blocking_scripts(report: dict) -> list[str]:
    items = report["audits"]["render-blocking-resources"].get("details", {}).get("items", [])
    return [item["url"] for item in items if item["url"].split("?")[0].endswith(".js")]


def print_report(urls: dict[str, str], reports: dict[str, dict]) -> int:
    version = next(iter(reports.values()))["lighthouseVersion"]
    print(f"\nLighthouse {version}, mobile (simulated throttling), Debian's chromium")
    print(
        f"| {'page':<20} | perf | a11y | best practices | SEO |   CLS | HTML+CSS+JS KB | "
        "blocking JS |"
    )
    print(
        f"|{'-' * 22}|------|------|----------------|-----|-------|----------------|-------------|"
    )
    failures: list[str] = []
    for name, report in reports.items():
        scores = {key: round(report["categories"][key]["score"] * 100) for key in CATEGORIES}
        shift = float(report["audits"]["cumulative-layout-shift"]["numericValue"])
        size = page_bytes(report)
        blocking = blocking_scripts(report)
        print(
            f"| {name:<20} | {scores['performance']:>4} | {scores['accessibility']:>4} | "
            f"{scores['best-practices']:>14} | {scores['seo']:>3} | {shift:>5.3f} | "
            f"{size / 1024:>14.1f} | {len(blocking):>11} |"
        )
        for key, floor in BUDGET.items():
            if scores[key] < floor:
                failed = [
                    audit["id"]
                    for audit in report["audits"].values()
                    if audit.get("score") is not None
                    and audit["score"] < 1
                    and audit["id"]
                    in {
                        ref["id"] for ref in report["categories"][key]["auditRefs"] if ref["weight"]
                    }
                ]
                failures.append(f"{name}: {key} {scores[key]} < {floor} ({', '.join(failed)})")
        if shift >= MAX_CLS:
            failures.append(f"{name}: CLS {shift:.3f} >= {MAX_CLS}")
        if blocking:
            failures.append(f"{name}: render-blocking JavaScript {blocking}")
        if name == "topic" and size >= MAX_TOPIC_BYTES:
            failures.append(f"topic: HTML + CSS + JS {size / 1024:.1f} KB >= 60 KB")
    print()
    for failure in failures:
        print(f"  FAIL  {failure}")
    if not failures:
        print("  PASS  every page within the budget (issue 14)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
