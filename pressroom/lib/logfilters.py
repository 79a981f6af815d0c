"""Logging filters: an outage is one line a minute in the log, not a traceback per request."""

from __future__ import annotations

import logging
import sys
import time

from django.db.utils import InterfaceError, OperationalError

OUTAGE_ERRORS = (OperationalError, InterfaceError)


class DatabaseOutageOncePerMinute(logging.Filter):
    """For django.request: a request answered 503 because the database is away is logged as
    one line, at most once a minute per process; every other record passes untouched."""

    interval = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._logged_at = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, OUTAGE_ERRORS):
            return True
        now = time.monotonic()
        if self._logged_at and now - self._logged_at < self.interval:
            return False
        self._logged_at = now
        lines = str(error).strip().splitlines()
        record.msg = "database unreachable, answering 503 (%s); next report in a minute"
        record.args = (lines[0] if lines else type(error).__name__,)
        record.exc_info = None
        record.exc_text = None
        return True


# When each message (its format, not its arguments) was last logged as an outage, per process.
_outage_logged_at: dict[str, float] = {}


def warn_about_failure(logger: logging.Logger, message: str, *args: object) -> None:
    """Log the exception being handled as a warning. An outage (the database away) is one line,
    without a traceback, at most once a minute per message and process: with the database
    down every request fails the same way. Anything else keeps its traceback."""
    error = sys.exc_info()[1]
    if not isinstance(error, OUTAGE_ERRORS):
        logger.warning(message, *args, exc_info=True)
        return
    now = time.monotonic()
    logged_at = _outage_logged_at.get(message)
    if logged_at is not None and now - logged_at < DatabaseOutageOncePerMinute.interval:
        return
    _outage_logged_at[message] = now
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    logger.warning(message + " (database unreachable: %s); next report in a minute", *args, reason)
