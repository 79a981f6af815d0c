"""A rolling restart behind the nginx recipe: `python -m bench rolling [--seconds=S]`.

docs/deploy.md's upgrade restarts the app servers one at a time; the recipe's passive health
checks (max_fails, proxy_next_upstream) send requests to the other server meanwhile. While wrk
loads a page through nginx (with a session cookie, so every request reaches an app server rather
than nginx's micro-cache), and an editor saves an article in the admin over and over (log in,
open the change form, post it back with a new title: a real write through CSRF, the session and
the database), this restarts the two `pressroom serve` processes one after the other, twice,
and counts the responses that were not 2xx/3xx and the socket errors, of readers and of the
editor. Then, for contrast, it restarts both at once, as the old upgrade steps did. Goal: 0
errors when rolling.

Needs nginx and wrk (Debian packages).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
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
        for command in (
            ["migrate", "--no-input"],
            ["demo", "--articles", str(options.articles)],
            ["createsuperuser", "--no-input", "--username", EDITOR, "--email", "e@example.org"],
        ):
            subprocess.run(
                [str(pages.BIN / "pressroom"), *command],
                env={**env, "DJANGO_SUPERUSER_PASSWORD": EDITOR_PASSWORD},
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

            editor = Editor(f"http://127.0.0.1:{PORT_RECIPE}")
            rolling = under_load(url, one_at_a_time, editor)
            together = under_load(url, lambda: restart((PORT_APP_ONE, PORT_APP_TWO)), editor)
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
    print("and an editor saving an article in the admin in a loop:")
    print(f"  {'restart':<44}{'requests':>10}{'errors':>8}{'saves':>8}{'errors':>8}")
    rows = [
        (f"one at a time, {options.rounds} rounds (docs/deploy.md)", rolling),
        ("both at once (the old upgrade steps)", together),
    ]
    for label, (requests, errors, saves, save_errors) in rows:
        print(f"  {label:<44}{requests:>10}{errors:>8}{saves:>8}{save_errors:>8}")
    passed = rolling[1] == 0 and rolling[3] == 0 and rolling[2] > 0
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


def under_load(url: str, action, editor: Editor) -> tuple[int, int, int, int]:
    """Requests and errors (non-2xx/3xx answers, socket errors) of wrk, and the editor's saves
    and failed saves, while `action` runs."""
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
    editor.saves = editor.errors = 0
    stop_saving = threading.Event()
    saving = threading.Thread(target=editor.save_until, args=(stop_saving,))
    time.sleep(1)
    saving.start()
    time.sleep(1)
    action()
    time.sleep(2)
    stop_saving.set()
    saving.join(timeout=60)
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
    for problem in editor.problems[:5]:
        print(f"  editor: {problem}")
    return (int(requests.group(1)) if requests else 0), errors, editor.saves, editor.errors


EDITOR, EDITOR_PASSWORD = "rolling-editor", "rolling-editor-password-8391"


class _FormFields(HTMLParser):
    """The fields a browser would submit from the admin's change form (id `article_form`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.in_form = False
        self.textarea: str | None = None
        self.select: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("id") == "article_form":
            self.in_form = True
        if not self.in_form or ("name" not in attributes and tag != "option"):
            return
        name = attributes.get("name", "")
        if tag == "input":
            kind = attributes.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            if kind not in ("submit", "button", "file", "image"):
                self.fields.append((name, attributes.get("value", "")))
        elif tag == "textarea":
            self.textarea, self.text = name, ""
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and "selected" in attributes:
            self.fields.append((self.select, attributes.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None
        elif tag == "select":
            self.select = None


class Editor:
    """An editor in the admin through nginx: logs in once, then saves article 1 in a loop."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.saves = self.errors = 0
        self.problems: list[str] = []
        self.post(
            "/admin/login/?next=/admin/",
            [("username", EDITOR), ("password", EDITOR_PASSWORD), ("next", "/admin/")],
        )
        self.change_url = f"/admin/publishing/article/{self.first_article_id()}/change/"

    def csrf_token(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken") or ""

    def open(self, path: str, data: bytes | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=data)  # noqa: S310 (loopback)
        if data is not None:
            request.add_header("X-CSRFToken", self.csrf_token())
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        if not any(cookie.name == "csrftoken" for cookie in self.cookies):
            self.open(path)
        fields = [*fields, ("csrfmiddlewaretoken", self.csrf_token())]
        return self.open(path, urllib.parse.urlencode(fields).encode())

    def first_article_id(self) -> str:
        status, page = self.open("/admin/publishing/article/")
        found = re.search(r"/admin/publishing/article/(\d+)/change/", page)
        if status != 200 or not found:
            raise SystemExit(f"bench rolling: the editor cannot open the article list ({status})")
        return found.group(1)

    def save_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                status, page = self.open(self.change_url)
                if status != 200:
                    raise OSError(f"change form answered {status}")
                form = _FormFields()
                form.feed(page)
                fields = [(n, v) for n, v in form.fields if n != "csrfmiddlewaretoken"]
                fields = [
                    (n, f"Rolling save {self.saves}" if n == "title" else v) for n, v in fields
                ]
                status, page = self.post(self.change_url, [*fields, ("_continue", "1")])
                if status != 200 or "errornote" in page:
                    raise OSError(
                        f"save answered {status}{' with form errors' if status == 200 else ''}"
                    )
                self.saves += 1
            except (OSError, urllib.error.URLError) as error:
                self.errors += 1
                self.problems.append(str(error))
