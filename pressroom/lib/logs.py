"""Logging helpers that know no app."""

from __future__ import annotations

import logging


class OneLine(logging.Filter):
    """Drops the traceback from a record: for events that are the client's mistake (a request
    for a host not in ALLOWED_HOSTS), where the message says everything and a traceback per
    request would bury the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True
