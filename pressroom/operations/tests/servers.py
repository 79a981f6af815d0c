"""Real servers for operations tests: Redis on a loopback port of its own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.ports import free_port


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    return free_port()


@contextmanager
def redis_server(directory: Path, *options: str) -> Iterator[int]:
    """redis-server on 127.0.0.1 with `options` (e.g. "--save", "900 1"); yields its port."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (Debian's redis-server package)")
    port = free_port()
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    process = subprocess.Popen(
        [executable, *arguments, "--daemonize", "no", "--logfile", "", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def redis_caches(port: int, backend: str = "django.core.cache.backends.redis.RedisCache") -> dict:
    return {
        "default": {
            "BACKEND": backend,
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
