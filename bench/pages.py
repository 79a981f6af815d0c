"""Page serving: Pressroom with and without its page cache, and behind the nginx recipe, against
nginx serving the same topic page as a static file.

`make bench BENCH_ARGS=pages` (or `python -m bench pages [--quick]`). It builds a deterministic
corpus (100,000 articles, 300 topics; --quick: 10,000) into SQLite once and keeps it under
var/bench/, serves copies of it with `pressroom serve` (production settings) on ports 8200-8299,
and loads each URL with wrk for 20 s (--quick: 5 s) after a warm-up. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RECIPE = ROOT / "deploy" / "nginx" / "pressroom.conf"
PORT_CACHED, PORT_UNCACHED, PORT_BARE, PORT_STATIC, PORT_RECIPE = 8201, 8202, 8203, 8210, 8220
PORT_LAYER = 8204
# The app environment of the "uncached" rows: no page is stored, every request renders (what
# each process keeps of a page's parts stays on, as in production).
UNCACHED = {"CACHE_URL": "dummy://"}
# Nothing kept between requests, not even the header or the teasers' markup.
NOTHING_KEPT = {"PAGE_CACHE_SECONDS": "0"}
# Each layer switched off on its own (bench/layers.py), and the row it is compared with: the
# server it is taken away from and the page measured.
LAYER_ROWS = [
    ("wsgi-front", "cached", "topic"),
    ("page-memory", "cached", "topic"),
    ("teasers", "uncached", "topic"),
    ("owners", "uncached", "topic"),
    ("fragments", "uncached", "topic"),
    ("navigation", "uncached", "home"),
    ("banner", "uncached", "topic"),
    ("records", "uncached", "article"),
    ("related", "uncached", "article"),
]
STATIC_BESIDE_RECIPE = "nginx static file, beside the recipe"
DEEP_PAGE = 500
PUBLICATIONS = 5
LOAD_AT_START: list[str] = []
BENCH_SECRET = "bench-secret-key-not-for-production-" + "x" * 20

GOALS = """Goals (issue 10): cached topic page >= 30% of static (pressroom serve alone) and >= 85%
(behind the nginx recipe); uncached topic page >= 600 req/s; page 500 within 1.2x of page 1;
every server worker < 150 MB RSS. Issue 14: uncached article at most 1.5x the uncached topic
page's CPU."""


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: float


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench pages")
    parser.add_argument("--quick", action="store_true", help="10,000 articles, 5 s per run")
    parser.add_argument("--articles", type=int)
    parser.add_argument("--topics", type=int, default=300)
    parser.add_argument("--seconds", type=int)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--layers",
        default=",".join(name for name, _, _ in LAYER_ROWS),
        help="cache layers to measure switched off, one server each (comma-separated; "
        "'none' for none)",
    )
    options = parser.parse_args(argv)
    LOAD_AT_START.append(Path("/proc/loadavg").read_text().strip())
    articles = options.articles or (10_000 if options.quick else 100_000)
    seconds = options.seconds or (5 if options.quick else 20)

    for tool, path in (("wrk", WRK), ("nginx", NGINX)):
        if not Path(path).exists():
            print(
                f"bench pages: {tool} is not installed ({path}); install it (apt install {tool})."
            )
            return 2

    corpus = build_corpus(articles, options.topics)
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-") as temporary:
        work = Path(temporary)
        layers = [row for row in LAYER_ROWS if row[0] in options.layers.split(",")]
        return run(corpus, work, seconds, options.connections, options.workers, articles, layers)


def build_corpus(articles: int, topics: int, seed: int = 1) -> Path:
    """The demo corpus as a SQLite file, generated once per set of parameters."""
    directory = ROOT / "var" / "bench" / f"corpus-a{articles}-t{topics}-s{seed}"
    database = directory / "pressroom.sqlite3"
    if (directory / "complete").exists():
        print(f"corpus: reusing {database.relative_to(ROOT)}", flush=True)
        # Brought to the current schema (new migrations since it was generated).
        subprocess.run(
            [str(BIN / "pressroom"), "migrate", "--no-input", "-v0"],
            env=app_environment(directory, database),
            check=True,
        )
        return database
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    print(f"corpus: generating {articles} articles in {topics} topics (once)...", flush=True)
    started = time.monotonic()
    env = app_environment(directory, database)
    pressroom = str(BIN / "pressroom")
    subprocess.run([pressroom, "migrate", "--no-input", "-v0"], env=env, check=True)
    subprocess.run(
        [
            pressroom,
            "demo",
            "--articles",
            str(articles),
            "--topics",
            str(topics),
            "--seed",
            str(seed),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("ANALYZE")
    (directory / "complete").write_text("ok\n")
    print(f"corpus: done in {time.monotonic() - started:.0f} s", flush=True)
    return database


def app_environment(var_dir: Path, database: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PAGE_CACHE_", "CACHE_URL", "DATABASE_URL", "DEBUG"))
    }
    env.update(
        PRESSROOM_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{database}",
        SECRET_KEY=BENCH_SECRET,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def run(
    corpus: Path,
    work: Path,
    seconds: int,
    connections: int,
    workers: int,
    articles: int,
    layers: list[tuple[str, str, str]],
) -> int:
    database = work / "pressroom.sqlite3"
    shutil.copyfile(corpus, database)
    ensure_static_files(work, database)
    article = prepare_article(work, database)
    servers: list[subprocess.Popen] = []
    try:
        cached = start_serve(work, database, PORT_CACHED, workers, {})
        servers.append(cached)
        uncached = start_serve(work, database, PORT_UNCACHED, workers, UNCACHED)
        servers.append(uncached)
        # What a render costs when every part of the page is worked out afresh.
        bare = start_serve(work, database, PORT_BARE, workers, NOTHING_KEPT)
        servers.append(bare)
        base = f"http://127.0.0.1:{PORT_CACHED}"
        urls = find_urls(base, article)
        print(
            f"urls: topic {urls['topic']}, deep page {urls['topic deep page'][:60]}..., "
            f"article {urls['article']}",
            flush=True,
        )
        static_root = work / "static-site"
        static_root.mkdir()
        (static_root / "topic.html").write_bytes(fetch(base + urls["topic"]))
        nginx = start_nginx(work, static_root)
        servers.append(nginx)

        results: list[Result] = []
        static_url = f"http://127.0.0.1:{PORT_STATIC}/topic.html"
        load = (seconds, connections)
        results.append(measure("nginx static file (topic page)", static_url, *load, [nginx.pid]))
        for label, path in urls.items():
            results.append(measure(f"cached {label}", base + path, *load, [cached.pid]))
        uncached_base = f"http://127.0.0.1:{PORT_UNCACHED}"
        for label in ("topic", "topic deep page", "home", "article", "feed"):
            url = uncached_base + urls[label]
            results.append(measure(f"uncached {label}", url, *load, [uncached.pid]))
        bare_url = f"http://127.0.0.1:{PORT_BARE}" + urls["topic"]
        results.append(measure("uncached topic, no fragments kept", bare_url, *load, [bare.pid]))
        recipe_base = f"http://127.0.0.1:{PORT_RECIPE}"
        # The static file again, just before the recipe: on a shared machine the load changes
        # within minutes, so the recipe is held against a static row measured beside it.
        results.append(measure(STATIC_BESIDE_RECIPE, static_url, *load, [nginx.pid]))
        for label in ("topic", "topic deep page"):
            url = recipe_base + urls[label]
            results.append(measure(f"nginx recipe {label}", url, *load, [nginx.pid, cached.pid]))
        # Each layer taken away on its own, from the server whose row it is compared with; one
        # server at a time, so that the others' memory does not crowd the machine.
        for layer, server, label in layers:
            extra = {"BENCH_LAYERS_OFF": layer, **(UNCACHED if server == "uncached" else {})}
            without = start_serve(work, database, PORT_LAYER, workers, extra, name=layer)
            try:
                url = f"http://127.0.0.1:{PORT_LAYER}" + urls[label]
                results.append(
                    measure(f"{server} {label} without {layer}", url, *load, [without.pid])
                )
            finally:
                stop(without)
        # Five publications, the worst counted: where in nginx's one-second window a publication
        # falls decides its delay there.
        trials = [
            publish_to_visible(
                app_environment(work / f"var-{PORT_CACHED}", database),
                [base, recipe_base],
                urls["topic"],
            )
            for _ in range(PUBLICATIONS)
        ]
        delays = {server: max(trial[server] for trial in trials) for server in (base, recipe_base)}
        memory = {
            "cached": worker_memory_mb(cached.pid),
            "uncached": worker_memory_mb(uncached.pid),
        }
    finally:
        for server in reversed(servers):
            stop(server)

    # The same two pages in one process, alternated: the steadier figure on a shared machine.
    in_process = in_process_ratio(database, urls["article"], urls["topic"])
    print_table(results, articles, seconds, connections, workers)
    print_layers(results, layers)
    print(
        f"publish-to-visible on {urls['topic']}, worst of {PUBLICATIONS}: pressroom serve "
        f"{delays[base]:.2f} s, behind the nginx recipe {delays[recipe_base]:.2f} s"
    )
    return report_goals(results, memory, max(delays.values()), in_process)


PUBLISH_SCRIPT = """
import time
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
topic = Topic.objects.get(slug={slug!r})
article = services.save_article(
    Article(title={title!r}, body="<p>Published during the benchmark.</p>"), topics=[topic]
)
services.publish_article(article)
print(time.time(), flush=True)
"""


def publish_to_visible(env: dict[str, str], bases: list[str], topic_path: str) -> dict[str, float]:
    """Publish an article from another process (as an editor's save in the admin would), with
    the app environment `env`, and time how long until its topic page shows it through each
    server."""
    title = f"Breaking during the benchmark {time.time_ns()}"
    slug = topic_path.strip("/").split("/")[-1]
    editor = subprocess.Popen(
        [str(BIN / "pressroom"), "shell", "-c", PUBLISH_SCRIPT.format(slug=slug, title=title)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, float] = {}
    deadline = time.time() + 120
    while len(seen) < len(bases) and time.time() < deadline:
        for base in bases:
            if base not in seen and title.encode() in fetch(base + topic_path):
                seen[base] = time.time()
        time.sleep(0.02)
    output, _ = editor.communicate(timeout=120)
    published_at = float(output.strip().splitlines()[-1])
    return {base: max(0.0, seen.get(base, deadline) - published_at) for base in bases}


# Issue 14, point 7 bounds an article "with its lead image, corrections and related articles":
# the demo corpus's articles have none of the first two, so the measured article (the newest of
# the largest topic, the one a reader of its page opens first) gets them here, on each run's
# copy of the corpus, as an editor and the worker would give them: a photograph from the media
# library with caption and credit, its renditions made as `pressroom worker` makes them, three
# public corrections through publishing.services.add_correction. Related articles are its first
# topic's newest (the script checks there are some). Prints the article's address.
ARTICLE_SETUP = """
import io, random, sys
import django
django.setup()
from PIL import Image, ImageDraw
from pressroom.media.renditions import make_item_renditions
from pressroom.media.services import add_item_from_bytes
from pressroom.publishing import services
from pressroom.publishing.article_page import article_or_404, related_articles
from pressroom.publishing.models import Article, Correction, Topic

topic = Topic.objects.get(slug=sys.argv[1])
article = Article.objects.published().for_topic(topic).order_by("-published_at", "-pk").first()
if article.lead_image_id is None:
    rng = random.Random(14)
    image = Image.new("RGB", (1600, 1067), (90, 110, 130))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, r = rng.randrange(1600), rng.randrange(1067), rng.randrange(20, 160)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
    photo = io.BytesIO()
    image.save(photo, "JPEG", quality=85)
    item = add_item_from_bytes(
        photo.getvalue(), "bench-lead.jpg", alt_text="Marchers on the road to the capital",
        caption="Marchers on the road to the capital, day 3.", credit="Pressroom bench",
    )[0]
    make_item_renditions(item.pk)  # what the worker's task does
    article.lead_image = item
    services.save_article(article)
    kinds = [Correction.Kind.CORRECTION, Correction.Kind.UPDATE, Correction.Kind.CLARIFICATION]
    for number, kind in enumerate(kinds, start=1):
        services.add_correction(
            article,
            f"An earlier version of this article gave the wrong figure ({number}): "
            "the union counted 4,000 marchers, not 40,000.",
            kind=kind,
        )
shown = article_or_404(article.slug)
assert shown.lead_image is not None and len(shown.shown_corrections) == 3, "fixture incomplete"
assert related_articles(shown), "the benchmark's article has no related articles"
print(article.get_absolute_url())
"""
ARTICLE_TOPIC = "peru"


def prepare_article(work: Path, database: Path) -> str:
    """Give the benchmark's article (in the copy at `database`) a lead image, three corrections
    and related articles; its address."""
    var_dir = work / "var-fixture"
    var_dir.mkdir(exist_ok=True)
    env = app_environment(var_dir, database, DJANGO_SETTINGS_MODULE="pressroom.settings")
    made = subprocess.run(
        [sys.executable, "-c", ARTICLE_SETUP, ARTICLE_TOPIC],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if made.returncode != 0:
        raise SystemExit(f"bench: the article fixture failed:\n{made.stderr[-2000:]}")
    return made.stdout.split()[-1]


def ensure_static_files(work: Path, database: Path) -> None:
    static_root = ROOT / "staticfiles"
    if not (static_root / "staticfiles.json").exists():
        subprocess.run(
            [str(BIN / "pressroom"), "collectstatic", "--no-input", "-v0"],
            env=app_environment(work, database),
            check=True,
        )


def start_serve(
    work: Path, database: Path, port: int, workers: int, extra: dict[str, str], name: str = ""
) -> subprocess.Popen:
    var_dir = work / f"var-{port}{'-' + name if name else ''}"
    var_dir.mkdir()
    return serve(app_environment(var_dir, database, **extra), port, workers)


def serve(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    """`pressroom serve`; with BENCH_LAYERS_OFF in `env`, the same granian command on
    bench/layers.py's application, which switches those layers off."""
    command = [str(BIN / "pressroom"), "serve", "--port", str(port), "--workers", str(workers)]
    if env.get("BENCH_LAYERS_OFF"):
        env = {**env, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "pressroom.settings"}
        command = [
            sys.executable,
            *("-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", str(workers), "--blocking-threads", "1"),
            *("--no-ws", "--log-level", "warning", "bench.layers:application"),
        ]
    refuse_taken_port(port)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, start_new_session=True, cwd=ROOT
    )
    wait_for_port(port, process)
    return process


def refuse_taken_port(port: int) -> None:
    """Another benchmark's server on our port would answer in our place, and its figures would
    be read as ours: stop with one clear line instead."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(
                f"bench: port {port} is already in use (another benchmark running?); "
                "stop it or wait for it to finish"
            )


def start_nginx(
    work: Path,
    static_root: Path,
    upstreams: tuple[int, ...] = (PORT_CACHED,),
    recipe_port: int = PORT_RECIPE,
    static_port: int = PORT_STATIC,
) -> subprocess.Popen:
    """nginx with two servers: the saved page as a static file, and the shipped recipe in front
    of the `pressroom serve` processes listening on `upstreams`."""
    recipe = RECIPE.read_text()
    # The recipe's own server parameters (max_fails=0), on the benchmark's ports.
    parameters = re.search(r"^\s*server 127\.0\.0\.1:\d+([^;]*);", recipe, re.MULTILINE)
    suffix = parameters.group(1) if parameters else ""
    servers = "".join(f"    server 127.0.0.1:{port}{suffix};\n" for port in upstreams)
    recipe = re.sub(
        r"upstream pressroom_app \{.*?\}",
        f"upstream pressroom_app {{\n{servers}    keepalive 32;\n}}",
        recipe,
        flags=re.DOTALL,
    )
    recipe = recipe.replace("/var/cache/nginx/pressroom", str(work / "nginx-cache"))
    recipe = recipe.replace("listen 80;", f"listen 127.0.0.1:{recipe_port};")
    recipe = recipe.replace("listen [::]:80;", "")
    recipe = recipe.replace("/srv/pressroom/staticfiles/", f"{ROOT / 'staticfiles'}/")
    (work / "pressroom.conf").write_text(recipe)
    temp = work / "nginx-temp"
    temp.mkdir()
    # Run as root (in a container), nginx's workers would drop to "nobody", who may not read the
    # private temporary directory.
    user = "user root;" if os.geteuid() == 0 else ""
    config = f"""
{user}
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{static_port};
        root {static_root};
    }}
    include {work}/pressroom.conf;
}}
"""
    (work / "nginx.conf").write_text(config)
    refuse_taken_port(static_port)
    refuse_taken_port(recipe_port)
    process = subprocess.Popen(
        [NGINX, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(static_port, process)
    wait_for_port(recipe_port, process)
    return process


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench pages: the server for port {port} exited at start-up")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"bench pages: nothing listens on port {port} after {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """As systemd stops a unit with KillMode=mixed: SIGTERM to the main process only (granian
    then lets its workers finish the requests in flight), the whole group killed if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # what is left of its group
    process.wait()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (local server)
        return response.read()


def find_urls(base: str, article: str = "") -> dict[str, str]:
    """The largest topic, its page 500 (by following 'Older articles' links, as a reader or a
    crawler would), `article` (by default its newest article), and the feed."""
    topic_list = fetch(base + "/topics/").decode()
    slugs = re.findall(r'href="(/topics/[^/"]+/)"', topic_list)
    # The demo corpus's first topic is the biggest (Zipf); it is "Peru".
    topic = "/topics/peru/" if "/topics/peru/" in slugs else slugs[0]
    query, page = "", 1
    while page < DEEP_PAGE:
        html = fetch(base + topic + query).decode()
        match = re.search(r'<a href="(\?[^"]+)" rel="next">', html)
        if match is None:
            print(f"urls: {topic} has only {page} pages; the deep page is the last one")
            break
        query, page = match.group(1).replace("&amp;", "&"), page + 1
    if not article:
        first_page = fetch(base + topic).decode()
        newest = re.search(r'href="(/articles/[^"]+/)"', first_page)
        assert newest is not None
        article = newest.group(1)
    return {
        "topic": topic,
        "topic deep page": topic + query,
        "home": "/",
        "article": article,
        "feed": "/feed/",
    }


WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)


def measure(
    name: str, url: str, seconds: int, connections: int, pids: list[int], script: str = ""
) -> Result:
    """wrk after a warm-up; also the CPU the servers in `pids` (and their children) spent per
    request, a figure other load on the machine does not change much. `script`: a wrk Lua
    script's path (requests of its own making)."""
    lua = ["-s", script] if script else []
    warm_up = ["-t2", f"-c{connections}", f"-d{max(2, seconds // 5)}s", *lua, url]
    subprocess.run([WRK, *warm_up], capture_output=True, check=True)
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    command = [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    output = subprocess.run(
        [*command, *lua, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu_spent = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    latencies = {}
    for percentile, value, unit in WRK_LATENCY.findall(output):
        latencies[percentile] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(number) for number in match.groups())
    cpu_ms = cpu_spent * 1000 / max(requests, 1)
    result = Result(name, rate, latencies.get("50", 0.0), latencies.get("99", 0.0), errors, cpu_ms)
    print(f"  {name:<34} {rate:>10.0f} req/s  {cpu_ms:8.3f} ms CPU/request", flush=True)
    return result


def process_tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in process_tree(root_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def worker_memory_mb(root_pid: int) -> list[tuple[float, float]]:
    """(VmRSS, private RSS) in MB of every process under `pressroom serve` (granian's main
    process and its workers). VmRSS also counts the pages of the SQLite file the process has
    mapped (PRAGMA mmap_size), which the kernel shares between processes; RssAnon does not."""
    sizes = []
    for pid in process_tree(root_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        resident = re.search(r"VmRSS:\s+(\d+) kB", status)
        private = re.search(r"RssAnon:\s+(\d+) kB", status)
        if resident and private:
            sizes.append((int(resident.group(1)) / 1024, int(private.group(1)) / 1024))
    return sizes


def print_table(
    results: list[Result], articles: int, seconds: int, connections: int, workers: int
) -> None:
    static = results[0].requests_per_second
    print()
    print(
        f"{articles} articles; wrk -t2 -c{connections} -d{seconds}s; pressroom serve "
        f"--workers {workers}; {os.cpu_count()} cores"
    )
    print(f"load average before the run: {LOAD_AT_START[0]}")
    print(
        f"| {'what':<34} | {'req/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | errors | vs static "
        "| CPU ms/request |"
    )
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 11}|{'-' * 16}|")
    for result in results:
        print(
            f"| {result.name:<34} | {result.requests_per_second:>9.0f} | {result.p50_ms:>7.2f} "
            f"| {result.p99_ms:>7.2f} | {result.errors:>6} | "
            f"{result.requests_per_second / static:>8.1%} | {result.cpu_ms_per_request:>14.3f} |"
        )


def print_layers(results: list[Result], layers: list[tuple[str, str, str]]) -> None:
    """Each layer against the row it was taken from: what it saves, in CPU per request (the
    steadier figure on a shared machine) and in req/s."""
    if not layers:
        return
    by_name = {result.name: result for result in results}
    print()
    print("What each layer earns (kept when the page costs >= 10% more CPU without it):")
    print(
        f"| {'layer':<12} | {'page':<15} | {'with: req/s, CPU ms':>20} | "
        f"{'without: req/s, CPU ms':>23} | {'CPU without/with':>16} |"
    )
    print(f"|{'-' * 14}|{'-' * 17}|{'-' * 22}|{'-' * 25}|{'-' * 18}|")
    for layer, server, label in layers:
        kept = by_name[f"{server} {label}"]
        taken = by_name[f"{server} {label} without {layer}"]
        ratio = taken.cpu_ms_per_request / max(kept.cpu_ms_per_request, 1e-9)
        print(
            f"| {layer:<12} | {server + ' ' + label:<15} | "
            f"{kept.requests_per_second:>9.0f}, {kept.cpu_ms_per_request:>8.3f} | "
            f"{taken.requests_per_second:>12.0f}, {taken.cpu_ms_per_request:>8.3f} | "
            f"{ratio:>15.2f}x |"
        )


def in_process_ratio(database: Path, article: str, topic: str) -> float:
    """`bench profile --against`: the article and the topic page rendered in turn in one process
    (uncached, parts kept, best of 11 alternated rounds); the CPU ratio article/topic."""
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "profile",
            f"--database={database}",
            f"--path={article}",
            f"--against={topic}",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    print(output, flush=True)
    found = re.search(r"ratio: ([\d.]+)x", output)
    assert found is not None, output
    return float(found.group(1))


def report_goals(
    results: list[Result],
    memory: dict[str, list[tuple[float, float]]],
    publish_delay: float,
    article_ratio_in_process: float,
) -> int:
    by_name = {result.name: result for result in results}
    static = results[0].requests_per_second

    def rate(name: str) -> float:
        return by_name[name].requests_per_second

    first = by_name["uncached topic"].cpu_ms_per_request
    deep = by_name["uncached topic deep page"].cpu_ms_per_request
    checks = [
        ("cached topic page >= 30% of static", rate("cached topic") >= 0.30 * static),
        (
            "nginx recipe topic page >= 85% of static (measured beside it: "
            f"{rate('nginx recipe topic') / rate(STATIC_BESIDE_RECIPE):.1%})",
            rate("nginx recipe topic") >= 0.85 * rate(STATIC_BESIDE_RECIPE),
        ),
        ("uncached topic page >= 600 req/s", rate("uncached topic") >= 600),
        (
            f"uncached deep page costs within 1.2x of page 1 ({deep:.2f} vs {first:.2f} ms CPU)",
            deep <= 1.2 * first,
        ),
        (
            "uncached deep page req/s within 1.2x of page 1",
            rate("uncached topic") <= 1.2 * rate("uncached topic deep page"),
        ),
    ]
    # Issue 14, point 7: readers land on old articles no cache holds.
    article = by_name["uncached article"].cpu_ms_per_request
    checks.append(
        (
            f"uncached article (lead image, 3 corrections, related) costs at most 1.5x the "
            f"uncached topic page, under wrk ({article:.2f} vs {first:.2f} ms CPU: "
            f"{article / max(first, 1e-9):.2f}x, goal 1.5x)",
            article <= 1.5 * first,
        )
    )
    checks.append(
        (
            "the same, in one process, best of 5 alternated rounds "
            f"({article_ratio_in_process:.2f}x, goal 1.5x)",
            article_ratio_in_process <= 1.5,
        )
    )
    checks.append((f"publish-to-visible <= 2 s ({publish_delay:.2f} s)", publish_delay <= 2))
    for label, sizes in memory.items():
        listing = ", ".join(f"{rss:.0f}/{private:.0f}" for rss, private in sizes)
        largest = max((rss for rss, _ in sizes), default=0.0)
        checks.append(
            (
                f"{label} server processes < 150 MB VmRSS (VmRSS/RssAnon MB: {listing})",
                largest < 150,
            )
        )
    print()
    print(GOALS)
    for label, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {label}")
    return 0 if all(passed for _, passed in checks) else 1
