"""Operators start Pressroom with the `pressroom` command: clear refusals, a real server."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from tests.ports import free_port

PRESSROOM = str(Path(sys.executable).with_name("pressroom"))
REPOSITORY = Path(__file__).resolve().parent.parent


def run_pressroom(*arguments: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [PRESSROOM, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPOSITORY,
        check=False,
    )


def clean_env(**variables: str) -> dict[str, str]:
    """Only what a shell needs, plus `variables`: nothing leaks in from the test run, except
    coverage's own variables (COVERAGE_PROCESS_CONFIG, set by `patch = ["subprocess"]`), which
    only make the child record what it runs for `make test`'s figure."""
    measuring = {name: value for name, value in os.environ.items() if name.startswith("COVERAGE_")}
    return {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **measuring, **variables}


def test_missing_secret_key_stops_start_up_with_one_clear_line(tmp_path):
    for command in (["check"], ["serve", "--port", "8199"], ["migrate"]):
        result = run_pressroom(*command, env=clean_env(PRESSROOM_VAR_DIR=str(tmp_path)))
        assert result.returncode != 0, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "SECRET_KEY is not set" in lines[0]
        assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.slow
def test_type_checking_needs_no_environment(tmp_path):
    """mypy's Django plugin imports the settings: with no SECRET_KEY, DEBUG or anything else set,
    it must still get through them (a start-up, above, refuses)."""
    mypy = Path(sys.executable).with_name("mypy")
    result = subprocess.run(
        [str(mypy), "--cache-dir", str(tmp_path / "cache"), "pressroom/cli.py"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPOSITORY,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_a_mistyped_setting_is_one_clear_line(tmp_path):
    result = run_pressroom(
        "check", env=clean_env(SECRET_KEY="x" * 50, DEBUG="maybe", PRESSROOM_VAR_DIR=str(tmp_path))
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "pressroom: configuration error: DEBUG must be true or false, not 'maybe'"
    ]


def test_development_secret_is_generated_once_into_the_var_directory(tmp_path):
    env = clean_env(
        PRESSROOM_DEV_SECRET="1",
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    first = run_pressroom("check", env=env)
    assert first.returncode == 0, first.stderr
    secret_file = tmp_path / "secret_key"
    key = secret_file.read_text()
    assert len(key) >= 50
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert run_pressroom("check", env=env).returncode == 0
    assert secret_file.read_text() == key


def _get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body of a GET."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own server)
        return response.status, response.headers, response.read()


@pytest.mark.slow
def test_pressroom_serve_runs_the_site_and_its_static_files(tmp_path):
    """What `make run` does after installing: migrate, demo content, serve with granian."""
    env = clean_env(
        SECRET_KEY="test-serve-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hA",
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'pressroom.sqlite3'}",
        CACHE_URL="locmem://",
    )
    if not (REPOSITORY / "staticfiles" / "staticfiles.json").exists():
        env["STATIC_ROOT"] = str(tmp_path / "static")
        collected = run_pressroom("collectstatic", "--no-input", "--verbosity", "0", env=env)
        assert collected.returncode == 0, collected.stderr
    migrated = run_pressroom("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    demo = run_pressroom("demo", "--articles", "30", "--if-empty", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "Demo editor login: editor / " in demo.stdout

    port = free_port()
    server = subprocess.Popen(
        [PRESSROOM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as systemd's cgroup is
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers, body = _get(f"http://127.0.0.1:{port}/")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {server.stdout.read()}")
                time.sleep(0.2)
        html = body.decode()
        assert status == 200
        assert "Skip to content" in html
        assert "Latest articles" in html
        stylesheet = re.search(r'<link rel="stylesheet" href="(/static/front/site\.[^"]+)"', html)
        assert stylesheet, "the page links its stylesheet"
        status, headers, css = _get(f"http://127.0.0.1:{port}{stylesheet.group(1)}")
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert b".skip-link" in css
        # WhiteNoise serves hashed names as immutable, cacheable for a year.
        assert "max-age=31536000" in headers.get("Cache-Control", "")
        # ... and nothing but collected files: not the checkout, not the env file.
        for path in ("/.git/config", "/pressroom/settings.py", "/.venv/pyvenv.cfg", "/.env"):
            with pytest.raises(urllib.error.HTTPError) as missing:
                _get(f"http://127.0.0.1:{port}/static{path}")
            assert missing.value.code == 404, path
        # Health checks for load balancers and the nginx recipe.
        status, headers, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert (status, body) == (200, b'{"status": "ok"}')
        assert "no-store" in headers["Cache-Control"]
        status, headers, body = _get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200
        assert b'"database": "ok"' in body
        # A host not in ALLOWED_HOSTS: a 400, and one line in the log.
        bad_host = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"Host": "evil.example.net"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad_host, timeout=10)  # noqa: S310 (our own server)
        assert refused.value.code == 400
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        # What the unit's KillMode=mixed does once the main process is gone: whatever is left
        # in the group goes too. A granian worker still starting when SIGTERM came outlived its
        # main process once, holding the log's pipe open (and this read) for good.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
    log = server.stdout.read()
    assert "Traceback" not in log
    assert [line for line in log.splitlines() if "evil.example.net" in line] == [
        line for line in log.splitlines() if "Invalid HTTP_HOST header: 'evil.example.net'" in line
    ]
    assert len([line for line in log.splitlines() if "evil.example.net" in line]) == 1, log


def test_pressroom_is_manage_py_plus_serve_demo_and_worker(tmp_path):
    env = clean_env(
        PRESSROOM_DEV_SECRET="1",
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    listing = run_pressroom("help", "--commands", env=env)
    assert listing.returncode == 0, listing.stderr
    commands = set(listing.stdout.split())
    assert {"serve", "demo", "worker", "migrate", "createsuperuser", "check"} <= commands
    serve_help = run_pressroom("serve", "--help", env=env).stdout
    for option in ("--host", "--port", "--workers"):
        assert option in serve_help

    refused = run_pressroom("demo", "--articles", "-1", env=env)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "CommandError: --articles must be 0 or more; --topics and --authors 1 or more."
    ]


def test_serve_refuses_a_bad_host_a_taken_port_and_absurd_counts_in_one_line(tmp_path):
    """Checked before the server starts: granian itself answered each with a traceback."""
    env = clean_env(
        SECRET_KEY="test-serve-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hA",
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refusals = {
            ("--host", "news.example.org", "--port", "8199"): "--host (HOST) must be an IP address",
            ("--port", port): f"cannot listen on 127.0.0.1:{port}: Address already in use.",
            ("--workers", "100000"): "--workers must be 0 (one per core) to 256",
            ("--threads", "0"): "--threads 1 to 256",
        }
        for arguments, message in refusals.items():
            result = run_pressroom("serve", *arguments, env=env)
            assert result.returncode != 0, arguments
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert message in lines[0], lines
    result = run_pressroom("serve", "--port", "8199", env={**env, "HOST": "localhost"})
    assert result.stderr.strip().splitlines() == [
        "CommandError: --host (HOST) must be an IP address like 127.0.0.1 or ::1, not 'localhost'."
    ]


def test_a_database_that_is_not_there_is_one_line_not_a_traceback(tmp_path):
    """deploy.md's old order ran migrate before the database existed: a psycopg traceback."""
    env = clean_env(
        SECRET_KEY="test-serve-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hA",
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'no-such-directory' / 'db.sqlite3'}",
    )
    for command in (["migrate", "--no-input"], ["createsuperuser", "--no-input"]):
        result = run_pressroom(*command, env=env)
        assert result.returncode == 1, command
        assert result.stderr.strip().splitlines() == [
            "pressroom: database error: unable to open database file (check DATABASE_URL, "
            "and that the database exists and its server runs)"
        ]
    # A developer still gets the traceback when asking for it.
    result = run_pressroom("migrate", "--no-input", "--traceback", env=env)
    assert "Traceback" in result.stderr
