"""Real services for operations tests: `pressroom` processes, a Redis server and a PostgreSQL
cluster of the test's own, each on a free loopback port, each one the test can stop and start."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from tests.ports import free_port

PRESSROOM = str(Path(sys.executable).with_name("pressroom"))
REPOSITORY = Path(__file__).resolve().parent.parent
POSTGRESQL_BIN = Path("/usr/lib/postgresql/15/bin")
TEST_SECRET = "operations-test-secret-" + "s" * 40


def site_environment(var_dir: Path, **variables: str) -> dict[str, str]:
    """What a `pressroom` process of one site gets: nothing leaks in from the test run."""
    var_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "SECRET_KEY": TEST_SECRET,
        "PRESSROOM_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'pressroom.sqlite3'}",
        "CACHE_URL": "locmem://",
        "LOG_LEVEL": "WARNING",
    }
    if not (REPOSITORY / "staticfiles" / "staticfiles.json").exists():
        environment["STATIC_ROOT"] = str(var_dir.parent / "static")
    environment.update(variables)
    return environment


def pressroom(*arguments: str, env: dict[str, str], timeout: float = 180):
    return subprocess.run(
        [PRESSROOM, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPOSITORY,
        check=False,
    )


def pressroom_ok(*arguments: str, env: dict[str, str]) -> str:
    result = pressroom(*arguments, env=env)
    assert result.returncode == 0, f"pressroom {' '.join(arguments)}: {result.stderr}"
    return result.stdout


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the process for port {port} exited: {output}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port} after {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def serve(env: dict[str, str], port: int | None = None) -> tuple[subprocess.Popen, str]:
    """`pressroom serve` with one worker; its process and base URL."""
    port = port or free_port()
    process = subprocess.Popen(
        [PRESSROOM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def get(url: str, timeout: float = 20) -> tuple[int, Message, str]:
    """Status, headers (case-insensitive) and text of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode(errors="replace")


@dataclass
class RedisServer:
    """A real redis-server without persistence, on a free port, that a test can kill."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    # Where `snapshot()` writes and a start loads from; None: nothing on disk at all.
    directory: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def snapshot(self) -> None:
        """Redis's own persistence, taken now (as its default `save` points would)."""
        import redis

        redis.Redis(host="127.0.0.1", port=self.port).save()

    def start(self) -> RedisServer:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
                *(("--dir", str(self.directory)) if self.directory else ()),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb in a temporary directory), on a free port,
    that a test can stop and start; `trust` authentication on loopback."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgres://pressroom@127.0.0.1:{self.port}/pressroom"

    def _run(self, *arguments: str) -> None:
        command = [str(POSTGRESQL_BIN / arguments[0]), *arguments[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def create(self) -> PostgresCluster:
        if not (POSTGRESQL_BIN / "initdb").exists():
            pytest.skip(f"no PostgreSQL server binaries in {POSTGRESQL_BIN}")
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.directory / "data"),
            "-U",
            "pressroom",
            "--auth=trust",
            "-E",
            "UTF8",
        )
        self.start()
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "pressroom", "pressroom"
        )
        return self

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "log"),
            "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
