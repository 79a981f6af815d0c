"""Real `pressroom serve` processes for tests that need several processes or real threads."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.ports import free_port
from tests.test_startup import PRESSROOM, REPOSITORY

__all__ = ["PRESSROOM", "REPOSITORY", "free_port", "prepare_site", "serving", "site_env", "stop"]


def site_env(var_dir: Path, **variables: str) -> dict[str, str]:
    """A production-like environment with its own SQLite database in `var_dir`."""
    env = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "SECRET_KEY": "test-limits-Vq8rT2mX9kL4pZ7wN3bJ6hY1cF5dS0gA",
        "PRESSROOM_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'pressroom.sqlite3'}",
        "CACHE_URL": "locmem://",
        **variables,
    }
    if not (REPOSITORY / "staticfiles" / "staticfiles.json").exists():
        env["STATIC_ROOT"] = str(var_dir / "static")
    return env


def pressroom(*arguments: str, env: dict[str, str], timeout: float = 300) -> str:
    """Run a `pressroom` command to completion; its output, or an assertion error."""
    result = subprocess.run(
        [PRESSROOM, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPOSITORY,
        check=False,
    )
    assert result.returncode == 0, f"pressroom {' '.join(arguments)}: {result.stderr}"
    return result.stdout


def prepare_site(env: dict[str, str], *, articles: int = 30) -> None:
    """What `make run` does before serving: static files, migrate, demo content."""
    if "STATIC_ROOT" in env:
        pressroom("collectstatic", "--no-input", "--verbosity", "0", env=env)
    pressroom("migrate", "--no-input", env=env)
    pressroom("demo", "--articles", str(articles), "--if-empty", env=env)


@contextlib.contextmanager
def serving(env: dict[str, str], *extra: str, port: int | None = None) -> Iterator[str]:
    """`pressroom serve` on a free loopback port until the block ends; yields its base URL."""
    port = port or free_port()
    server = subprocess.Popen(
        [PRESSROOM, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as systemd's cgroup is
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=10):  # noqa: S310 (loopback)
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise RuntimeError(f"server did not start: {server.stdout.read()}") from None
                time.sleep(0.2)
        yield base
    finally:
        stop(server)
        # As the unit's KillMode=mixed does: a granian worker that outlived its main process
        # (SIGTERM while it was starting) goes with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM (a server or worker finishes what it is doing first), then SIGKILL if that takes
    longer than `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
