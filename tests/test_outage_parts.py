"""The parts of outage handling, in this process (tests/test_outages.py stops the real services
under running servers): Redis away behind the cache backend, the 503 page, the log filter."""

from __future__ import annotations

import logging

import pytest
from django.db.utils import OperationalError

from pressroom.lib import cache as resilient
from pressroom.lib.logfilters import DatabaseOutageOncePerMinute
from tests.services import free_port


def test_an_unreachable_redis_is_misses_dropped_writes_and_local_counters(caplog, monkeypatch):
    monkeypatch.setattr(resilient, "RETRY_SECONDS", 0.0)  # ask Redis every time in this test
    backend = resilient.ResilientRedisCache(
        f"redis://127.0.0.1:{free_port()}/0",
        {"OPTIONS": {}},  # nothing listens there
    )
    with caplog.at_level(logging.WARNING, logger="pressroom.lib.cache"):
        assert backend.get("page", "missing") == "missing"
        assert backend.get_many(["a", "b"]) == {}
        assert backend.has_key("page") is False
        assert backend.set("page", "html") is None
        assert backend.set_many({"a": 1}) == ["a"]
        assert backend.touch("page") is False
        assert backend.delete("page") is False
        backend.delete_many(["a"])
        backend.clear()
        # A rate limit keeps counting in this process.
        assert backend.add("signups:127.0.0.1", 0) is True
        assert backend.incr("signups:127.0.0.1") == 1
        assert backend.incr("signups:127.0.0.1") == 2
        assert backend.decr("signups:127.0.0.1") == 1
        assert backend.add("signups:127.0.0.1", 0) is False
    outage_lines = [record for record in caplog.records if "unreachable" in record.message]
    assert len(outage_lines) == 1


def test_after_a_failure_redis_is_left_alone_for_a_moment(monkeypatch):
    backend = resilient.ResilientRedisCache(f"redis://127.0.0.1:{free_port()}/0", {})
    assert backend.available
    assert backend.get("page") is None
    assert not backend.available  # the next requests do not wait for a connection each


def test_a_database_outage_is_a_branded_503_that_asks_to_come_back(rf, settings):
    from pressroom.front.views import server_error

    settings.SITE_NAME = "Pressroom News"
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(rf.get("/topics/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Back in a moment" in response.content.decode()
    assert "Pressroom News" in response.content.decode()
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(rf.get("/")).status_code == 500


def _record(error: BaseException | None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error else None
    return logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Service Unavailable: %s", ("/",), exc_info
    )


def test_the_log_gets_one_line_a_minute_for_a_database_outage(monkeypatch):
    log_filter = DatabaseOutageOncePerMinute()
    first = _record(OperationalError("connection refused\nIs the server running?"))
    assert log_filter.filter(first) is True
    assert first.getMessage() == (
        "database unreachable, answering 503 (connection refused); next report in a minute"
    )
    assert first.exc_info is None  # no traceback
    assert log_filter.filter(_record(OperationalError("again"))) is False
    assert log_filter.filter(_record(None)) is True  # anything else passes untouched
    assert log_filter.filter(_record(ValueError("a bug"))) is True
    log_filter._logged_at -= 61
    assert log_filter.filter(_record(OperationalError("still"))) is True


def test_the_generation_never_goes_backwards_even_across_a_restart(tmp_path):
    """Redis restored from an old snapshot brings back a lower generation: a process that saw a
    higher one, or was restarted after seeing it, moves the generation past it for everyone."""
    from django.core.cache import cache

    from pressroom.lib.pagecache.generation import GENERATION_KEY, SharedCacheGeneration

    highest = tmp_path / "content-generation-highest"
    try:
        cache.set(GENERATION_KEY, 1000, timeout=None)
        running = SharedCacheGeneration(highest_file=highest)
        assert running.current() == "1000"
        running.bump()
        seen = int(running.current())
        assert seen == 1001

        cache.set(GENERATION_KEY, 1000, timeout=None)  # the old snapshot
        moved_on = int(running.current())
        assert moved_on > seen
        assert int(cache.get(GENERATION_KEY)) == moved_on

        cache.set(GENERATION_KEY, 1000, timeout=None)  # again, and this process restarts
        restarted = SharedCacheGeneration(highest_file=highest)
        assert int(highest.read_text()) == moved_on
        assert int(restarted.current()) > moved_on
        assert int(cache.get(GENERATION_KEY)) > moved_on
    finally:
        cache.delete(GENERATION_KEY)


def test_the_page_cache_reports_a_database_outage_once_a_minute_without_a_traceback(
    caplog, monkeypatch
):
    from pressroom.lib import logfilters

    monkeypatch.setattr(logfilters, "_outage_logged_at", {})
    logger = logging.getLogger("pressroom.lib.pagecache.middleware")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        for _ in range(5):  # five requests while PostgreSQL is away
            try:
                raise OperationalError("connection to server failed\nIs the server running?")
            except OperationalError:
                logfilters.warn_about_failure(logger, "page cache: could not store %s", "/")
        try:
            raise ValueError("a bug, not an outage")
        except ValueError:
            logfilters.warn_about_failure(logger, "page cache: lookup failed; serving fresh")
    outages = [record for record in caplog.records if "database unreachable" in record.message]
    assert len(outages) == 1
    assert outages[0].exc_info is None
    assert outages[0].message == (
        "page cache: could not store / (database unreachable: connection to server failed); "
        "next report in a minute"
    )
    bugs = [record for record in caplog.records if "lookup failed" in record.message]
    assert len(bugs) == 1
    assert bugs[0].exc_info is not None  # a bug keeps its traceback


@pytest.mark.django_db
def test_a_page_rendered_while_the_scheduled_moments_cannot_be_read_logs_one_line(
    reader_client, caplog, monkeypatch
):
    """The page cache asks the apps for the next scheduled moment (a query): with the database
    away it says so once, and the request goes on."""
    from pressroom.lib import logfilters
    from pressroom.lib.pagecache import generation

    def database_away(now: object) -> None:
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(logfilters, "_outage_logged_at", {})
    monkeypatch.setattr(generation, "_next_publication_providers", [database_away])
    monkeypatch.setattr(generation, "_next_moment", ("", None))
    with caplog.at_level(logging.WARNING, logger="pressroom.lib.pagecache.middleware"):
        for _ in range(3):
            generation.forget_cached_pages()  # a new generation: the moments are asked again
            reader_client.get("/")
    lines = [r for r in caplog.records if "could not check scheduled moments" in r.message]
    assert len(lines) == 1
    assert lines[0].exc_info is None
