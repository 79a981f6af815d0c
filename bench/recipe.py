"""The production shape: `python -m bench recipe [--articles=N] [--seconds=S]`.

The nginx recipe (deploy/nginx/pressroom.conf) in front of two `pressroom serve` processes that
share PostgreSQL and Redis, as docs/deploy.md describes. While wrk loads the topic page through
nginx, an editor's process publishes five articles one after the other; for each, the time
until the topic page shows it through nginx and through each app server. Reports the worst, and
nginx's req/s meanwhile. Goal: publish-to-visible within 2 s.

Needs nginx, wrk and redis-server (Debian packages) and a PostgreSQL server: DATABASE_URL must
point at it (postgres://user:password@host:port/name; .ci/run's is
postgres://pressroom:pressroom@127.0.0.1:5432/pressroom). The role must be allowed to create
databases: the benchmark creates `pressroom_bench_recipe` there and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import pages

PORT_REDIS, PORT_APP_ONE, PORT_APP_TWO, PORT_STATIC, PORT_RECIPE = 8230, 8231, 8232, 8233, 8234
DATABASE_NAME = "pressroom_bench_recipe"
PUBLICATIONS = 5
GOAL_SECONDS = 2.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench recipe")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=30, help="how long wrk loads the page")
    options = parser.parse_args(argv)

    missing = [tool for tool in ("nginx", "wrk", "redis-server") if not shutil.which(tool)]
    if missing:
        print(f"bench recipe: install {' '.join(missing)} (apt install {' '.join(missing)}).")
        return 2
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print("bench recipe: set DATABASE_URL to a PostgreSQL server (postgres://user:pw@host/db).")
        return 2
    database_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{DATABASE_NAME}"))

    with tempfile.TemporaryDirectory(prefix="pressroom-recipe-") as temporary:
        work = Path(temporary)
        processes: list[subprocess.Popen] = []
        recreate_database(server_url, drop_only=False)
        try:
            redis_options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            redis = subprocess.Popen(
                ["redis-server", "--port", str(PORT_REDIS), *redis_options],
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
            processes.append(redis)
            pages.wait_for_port(PORT_REDIS, redis)
            env = {
                **pages.app_environment(work / "var", Path("unused")),
                "DATABASE_URL": database_url,
                "CACHE_URL": f"redis://127.0.0.1:{PORT_REDIS}/0",
            }
            (work / "var").mkdir()
            setup(env, work, options.articles)
            for port in (PORT_APP_ONE, PORT_APP_TWO):
                processes.append(pages.serve(env, port, workers=1))
            static_root = work / "static-site"
            static_root.mkdir()
            nginx = pages.start_nginx(
                work, static_root, (PORT_APP_ONE, PORT_APP_TWO), PORT_RECIPE, PORT_STATIC
            )
            processes.append(nginx)
            return measure(env, options.seconds, options.articles)
        finally:
            for process in reversed(processes):
                pages.stop(process)
            recreate_database(server_url, drop_only=True)


def recreate_database(server_url: str, *, drop_only: bool) -> None:
    import psycopg

    # Through the maintenance database: the one DATABASE_URL names need not exist.
    maintenance_url = urlunsplit(urlsplit(server_url)._replace(path="/postgres"))
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
        if not drop_only:
            connection.execute(f"CREATE DATABASE {DATABASE_NAME}")


def setup(env: dict[str, str], work: Path, articles: int) -> None:
    started = time.monotonic()
    pages.ensure_static_files(work, Path("unused"))
    for command in (
        ["migrate", "--no-input"],
        ["demo", "--articles", str(articles), "--topics", "60", "--seed", "1"],
    ):
        subprocess.run(
            [str(pages.BIN / "pressroom"), *command], env=env, check=True, stdout=subprocess.DEVNULL
        )
    print(f"PostgreSQL database with {articles} articles in {time.monotonic() - started:.0f} s")


def measure(env: dict[str, str], seconds: int, articles: int) -> int:
    recipe = f"http://127.0.0.1:{PORT_RECIPE}"
    apps = [f"http://127.0.0.1:{port}" for port in (PORT_APP_ONE, PORT_APP_TWO)]
    topic = pages.find_urls(apps[0])["topic"]
    load = subprocess.Popen(
        [pages.WRK, "-t1", "-c16", f"-d{seconds}s", recipe + topic],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    trials = [pages.publish_to_visible(env, [recipe, *apps], topic) for _ in range(PUBLICATIONS)]
    output, _ = load.communicate(timeout=seconds + 60)
    rate = output.split("Requests/sec:")[1].split()[0] if "Requests/sec:" in output else "?"
    worst = {base: max(trial[base] for trial in trials) for base in [recipe, *apps]}

    print()
    print(
        f"nginx recipe in front of 2 `pressroom serve` processes on PostgreSQL + Redis; "
        f"{articles} articles; wrk -t1 -c16 on {topic} through nginx: {rate} req/s"
    )
    print(f"publish-to-visible, worst of {PUBLICATIONS} publications while under that load:")
    print(f"  through the nginx recipe  {worst[recipe]:.2f} s")
    for base in apps:
        print(f"  directly from {base}  {worst[base]:.2f} s")
    passed = worst[recipe] <= GOAL_SECONDS
    print(f"  {'PASS' if passed else 'FAIL'}  publish-to-visible <= {GOAL_SECONDS:.0f} s")
    return 0 if passed else 1
