"""Library files as readers get them, over real HTTP: from `pressroom serve` (what `make run`
starts; MEDIA_SERVE) and from nginx running the shipped recipe (deploy/nginx/pressroom.conf),
each with one immutable Cache-Control header, the right type, documents sandboxed, nothing
outside the library's folders, and a replaced file's old address gone."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.test_startup import PRESSROOM, REPOSITORY, clean_env, run_pressroom

IMMUTABLE = "public, max-age=31536000, immutable"
RECIPE = REPOSITORY / "deploy" / "nginx" / "pressroom.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.slow

# Run inside the app's environment: adds a photo and a PDF through the library's services, makes
# the photo's renditions, replaces a third file, and prints what the test needs.
ADD_FILES = """
import json
from pressroom.media import services
from pressroom.media.renditions import make_item_renditions
from pressroom.media.tests.images import jpeg_with_gps, png_bytes
photo, _ = services.add_item_from_bytes(jpeg_with_gps(900, 600), "march.jpg")
make_item_renditions(photo.pk)
pdf, _ = services.add_item_from_bytes(b"%PDF-1.4\\n1 0 obj<<>>endobj\\n", "ruling.pdf")
replaced, _ = services.add_item_from_bytes(png_bytes(seed=3), "source.png")
old = replaced.url
services.replace_item_file(replaced, png_bytes(seed=4), "blurred.png")
print(json.dumps({
    "photo": photo.url,
    "webp": photo.renditions.get(preset="w640", format="webp").url,
    "avif": [r.url for r in photo.renditions.filter(format="avif")][:1],
    "pdf": pdf.url,
    "replaced_old": old,
    "replaced_new": replaced.url,
}))
"""


def _get(url: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, every header (repeated ones too) and body."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, list(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, list(error.headers.items()), b""


def _headers(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def _wait_for(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, dict, dict]:
    """A fresh installation's var directory with library files added through the services."""
    var = tmp_path_factory.mktemp("var")
    env = clean_env(
        SECRET_KEY="test-media-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hA",
        PRESSROOM_VAR_DIR=str(var),
        DATABASE_URL=f"sqlite:///{var / 'pressroom.sqlite3'}",
        CACHE_URL="locmem://",
        MEDIA_AVIF="true",
    )
    if not (REPOSITORY / "staticfiles" / "staticfiles.json").exists():
        env["STATIC_ROOT"] = str(var / "static")
        assert run_pressroom("collectstatic", "--no-input", "-v", "0", env=env).returncode == 0
    migrated = run_pressroom("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    added = run_pressroom("shell", "-c", ADD_FILES, env=env)
    assert added.returncode == 0, added.stderr
    urls = json.loads(added.stdout.strip().splitlines()[-1])
    return var, env, urls


def _check_library_files(base: str, urls: dict, media_root: Path) -> None:
    status, headers, body = _get(base + urls["photo"])
    assert status == 200
    assert _headers(headers, "Cache-Control") == [IMMUTABLE]  # one header, nothing weaker
    assert _headers(headers, "Content-Type") == ["image/jpeg"]
    assert body[:3] == b"\xff\xd8\xff"
    status, headers, body = _get(base + urls["webp"])
    assert status == 200
    assert _headers(headers, "Cache-Control") == [IMMUTABLE]
    assert _headers(headers, "Content-Type") == ["image/webp"]
    for avif in urls["avif"]:
        status, headers, _ = _get(base + avif)
        assert (status, _headers(headers, "Content-Type")) == (200, ["image/avif"])
    status, headers, body = _get(base + urls["pdf"])
    assert status == 200
    assert _headers(headers, "Content-Security-Policy") == ["sandbox"]
    assert _headers(headers, "Cache-Control") == [IMMUTABLE]
    # A replaced file's old address is gone; the new one is there.
    assert _get(base + urls["replaced_old"])[0] == 404
    assert _get(base + urls["replaced_new"])[0] == 200
    # Nothing but the library's folders.
    (media_root / "secret.txt").write_text("not for readers")
    for path in ("/media/secret.txt", "/media/originals/../secret.txt", "/media/cache/x"):
        assert _get(base + path)[0] in (400, 404), path


def test_pressroom_serve_answers_library_files_with_immutable_caching(site):
    var, env, urls = site
    port = free_port()
    server = subprocess.Popen(
        [PRESSROOM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server, "pressroom serve")
        _check_library_files(f"http://127.0.0.1:{port}", urls, var / "media")
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.skipif(not Path(NGINX).exists(), reason="needs Debian's nginx")
def test_the_nginx_recipe_serves_library_files_with_immutable_caching(site, tmp_path):
    """The shipped recipe, unchanged but for its ADJUST lines (ports, folders)."""
    var, _, urls = site
    port = free_port()
    recipe = RECIPE.read_text()
    recipe = recipe.replace("/var/cache/nginx/pressroom", str(tmp_path / "cache"))
    recipe = recipe.replace("listen 80;", f"listen 127.0.0.1:{port};")
    recipe = recipe.replace("listen [::]:80;", "")
    recipe = recipe.replace("/srv/pressroom/staticfiles/", f"{REPOSITORY / 'staticfiles'}/")
    assert "root /srv/pressroom/var;" in recipe
    recipe = recipe.replace("root /srv/pressroom/var;", f"root {var};")
    assert "access_log /var/log/nginx/access.log pressroom_private;" in recipe
    recipe = recipe.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "pressroom.conf").write_text(recipe)
    # As root (in a container), nginx's workers would drop to "nobody", who may not read the
    # private temporary directories.
    user = "user root;" if os.geteuid() == 0 else ""
    temp = tmp_path / "temp"
    (tmp_path / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/pressroom.conf;
}}
"""
    )
    temp.mkdir()
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(port, nginx, "nginx")
        _check_library_files(f"http://127.0.0.1:{port}", urls, var / "media")
        # Review finding 10 (privacy): the access log keeps no reader's address, user agent,
        # referrer or query string.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/media/secret.txt?utm_campaign=rosa-at-example-org",
            headers={"User-Agent": "Reader-Agent/1.0", "Referer": "https://friend.example/"},
        )
        with contextlib.suppress(urllib.error.HTTPError):  # a 404: logged all the same
            urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 (loopback)
    finally:
        nginx.terminate()
        nginx.wait(timeout=15)
    log = (tmp_path / "access.log").read_text()
    assert "/media/secret.txt" in log  # requests are logged, for the operator
    for kept in ("127.0.0.1", "Reader-Agent", "friend.example", "rosa-at-example-org", "utm_"):
        assert kept not in log
    assert not re.search(r"\[(emerg|crit)\]", (tmp_path / "error.log").read_text())
