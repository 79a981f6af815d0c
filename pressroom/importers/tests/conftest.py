"""The importer's tests that run `pressroom` as a real process share its database set-up."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing

import pytest
from django.db import connection

from pressroom.importers.tests.test_import_resume import PRESSROOM


@pytest.fixture
def scratch_database(tmp_path) -> Iterator[tuple[dict[str, str], Callable[[], int]]]:
    """The environment of a `pressroom` process on a migrated database of its own, and a way to
    count its articles while that process runs."""
    settings = connection.settings_dict
    env = {**os.environ, "PRESSROOM_VAR_DIR": str(tmp_path), "PRESSROOM_DEV_SECRET": "1"}
    if connection.vendor == "postgresql":
        import psycopg

        name = f"{settings['NAME']}_resume"
        server = (
            f"postgres://{settings['USER']}:{settings['PASSWORD']}"
            f"@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        )
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{server}/{name}"

        def count() -> int:
            with psycopg.connect(env["DATABASE_URL"]) as reader:
                return reader.execute("SELECT count(*) FROM publishing_article").fetchone()[0]

    else:
        import sqlite3

        database = tmp_path / "import.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{database}"

        def count() -> int:
            with closing(sqlite3.connect(database)) as reader:
                return reader.execute("SELECT count(*) FROM publishing_article").fetchone()[0]

    subprocess.run([*PRESSROOM, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    yield env, count
    if connection.vendor == "postgresql":
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
