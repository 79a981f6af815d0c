"""Loopback ports for the servers tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on, chosen by the kernel. Walking a fixed range from its
    start, two suites running side by side (.ci/run runs SQLite's and PostgreSQL's at once)
    would both pick its first port while a server was still starting on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
