"""A rolling restart behind the nginx recipe: `python -m bench rolling [--seconds=S]`.

docs/deploy.md's upgrade restarts the app servers one at a time; the recipe's passive health
checks (max_fails, proxy_next_upstream) send requests to the other server meanwhile. While wrk
loads a page through nginx (with a session cookie, so every request reaches an app server rather
than nginx's micro-cache), this restarts the two `pressroom serve` processes one after the
other, twice, and counts the responses that were not 2xx/3xx and the socket errors. Then, for
contrast, it restarts both at once, as the old upgrade steps did. Goal: 0 errors when rolling.

Needs nginx and wrk (Debian packages).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import pages

PORT_APP_ONE, PORT_APP_TWO, PORT_STATIC, PORT_RECIPE = 8241, 8242, 8243, 8244


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench rolling")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="rolling restarts of both servers")
    options = parser.parse_args(argv)
    missing = [tool for tool in ("nginx", "wrk") if not shutil.which(tool)]
    if missing:
        print(f"bench rolling: install {' '.join(missing)} (apt install {' '.join(missing)}).")
        return 2

    with tempfile.TemporaryDirectory(prefix="pressroom-rolling-") as temporary:
        work = Path(temporary)
        (work / "var").mkdir()
        env = pages.app_environment(work / "var", work / "var" / "pressroom.sqlite3")
        pages.ensure_static_files(work, work / "var" / "pressroom.sqlite3")
        for command in (["migrate", "--no-input"], ["demo", "--articles", str(options.articles)]):
            subprocess.run(
                [str(pages.BIN / "pressroom"), *command],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        servers = {port: pages.serve(env, port, workers=1) for port in (PORT_APP_ONE, PORT_APP_TWO)}
        static_root = work / "static-site"
        static_root.mkdir()
        nginx = pages.start_nginx(
            work, static_root, (PORT_APP_ONE, PORT_APP_TWO), PORT_RECIPE, PORT_STATIC
        )
        try:
            url = f"http://127.0.0.1:{PORT_RECIPE}/topics/peru/"

            def restart(ports: tuple[int, ...]) -> None:
                for port in ports:
                    pages.stop(servers[port])
                for port in ports:
                    servers[port] = pages.serve(env, port, workers=1)

            def one_at_a_time() -> None:
                # As docs/deploy.md's upgrade: restart, wait until the server answers, then
                # longer than the recipe's fail_timeout before the next one.
                for _ in range(options.rounds):
                    for port in (PORT_APP_ONE, PORT_APP_TWO):
                        restart((port,))
                        answers(f"http://127.0.0.1:{port}/topics/peru/")
                        time.sleep(3)

            rolling = under_load(url, one_at_a_time)
            together = under_load(url, lambda: restart((PORT_APP_ONE, PORT_APP_TWO)))
            log = (work / "nginx-error.log").read_text(errors="replace").splitlines()
            kinds: dict[str, int] = {}
            for line in log:
                kind = re.sub(r"^.*?\] \d+#\d+: \*?\d* ?", "", line).split(",")[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            for kind, count in sorted(kinds.items(), key=lambda item: -item[1])[:5]:
                print(f"  nginx error log: {count} x {kind}")
        finally:
            pages.stop(nginx)
            for process in servers.values():
                pages.stop(process)

    print()
    print("nginx recipe in front of 2 `pressroom serve` (1 worker each), wrk -t1 -c8 through")
    print("nginx with a session cookie (every request reaches an app server):")
    print(f"  {'restart':<44}{'requests':>10}{'errors':>8}")
    rows = [
        (f"one at a time, {options.rounds} rounds (docs/deploy.md)", rolling),
        ("both at once (the old upgrade steps)", together),
    ]
    for label, (requests, errors) in rows:
        print(f"  {label:<44}{requests:>10}{errors:>8}")
    passed = rolling[1] == 0
    print(f"  {'PASS' if passed else 'FAIL'}  0 errors during a rolling restart")
    return 0 if passed else 1


def answers(url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench rolling: {url} does not answer after a restart") from None
        time.sleep(0.5)


def under_load(url: str, action) -> tuple[int, int]:
    """Requests and errors (non-2xx/3xx answers, socket errors) of wrk while `action` runs."""
    request = urllib.request.Request(url, headers={"Cookie": "sessionid=bench"})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            assert response.status == 200
    except urllib.error.HTTPError as error:
        raise SystemExit(f"bench rolling: {url} answers {error.code} before any restart") from None
    load = subprocess.Popen(
        [pages.WRK, "-t1", "-c8", "-d3600s", "-H", "Cookie: sessionid=bench", url],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    action()
    time.sleep(2)
    load.send_signal(2)  # wrk prints its summary on SIGINT
    output, _ = load.communicate(timeout=60)
    for line in output.splitlines():
        if "errors" in line or "Non-2xx" in line or "requests in" in line:
            print(f"  wrk: {line.strip()}")
    requests = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if sockets:
        errors += sum(int(value) for value in sockets.groups())
    return (int(requests.group(1)) if requests else 0), errors
