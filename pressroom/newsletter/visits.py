"""Visits that came from a send: requests whose address carries `ref=email-<send id>`.

Counted by the site's one counting layer (pressroom.lib.counting: a hook of the WSGI front, which
wraps the page cache's front), so a page the page cache answers is counted like a fresh one. On
the request path nothing touches the database: the tag is checked against a set of started
sends' ids kept in this process (read again at most once a minute), and the send's total for
the day is added to in the process; the worker moves the totals into `SendVisit` rows every
minute (`store_visits` is the "send" sink). The tag is then taken off the address, so the page
cache files a tagged click under the untagged page and Django renders the same page for both.

Stored: one number per send and day. Never stored: a cookie, an IP address, a user agent, or
anything else about the reader (the tag names the send, never the reader). Not counted: HEAD
requests and user agents that say they are bots, crawlers, spiders or link previews (link
scanners fetch every link of a message as it arrives), tags of sends not started yet, made-up
tags.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from pressroom.lib import counting
from pressroom.lib.attribution import CAMPAIGN_ENVIRON
from pressroom.newsletter.models import Digest, SendVisit

logger = logging.getLogger(__name__)

REF = re.compile(r"email-([1-9][0-9]{0,9})")
# How long the set of started sends is trusted in a process.
STARTED_SENDS_SECONDS = 60
FLUSH_SECONDS = counting.FLUSH_SECONDS

_started: tuple[frozenset[int], float] = (frozenset(), float("-inf"))
_started_lock = threading.Lock()


def started_send_ids(*, fresh: bool = False) -> frozenset[int]:
    """Ids of the sends that have started (their tags are real), read at most once a minute."""
    global _started
    ids, read_at = _started
    if fresh or time.monotonic() - read_at > STARTED_SENDS_SECONDS:
        with _started_lock:
            started = Digest.objects.exclude(status=Digest.Status.DRAFT).filter(
                started_at__lte=timezone.now()
            )
            # Digests start when they are built (started_at empty): their day is their start.
            digests = Digest.objects.digests().exclude(status=Digest.Status.DRAFT)
            ids = frozenset(started.values_list("pk", flat=True)) | frozenset(
                digests.values_list("pk", flat=True)
            )
            _started = (ids, time.monotonic())
    return ids


def forget_started_sends() -> None:
    """The next check reads the started sends again (tests, and a send that starts now)."""
    global _started
    _started = (frozenset(), float("-inf"))


def count_visit(send_id: int) -> None:
    """One visit for the send today: added up in this process (pressroom.lib.counting)."""
    counting.count("send", send_id, timezone.localdate())


def send_tag(query_string: str) -> tuple[int | None, str]:
    """(the send id of a `ref=email-<id>` tag or None, the query string without such tags).

    Split on the raw string, so the rest of the query keeps its exact spelling (the page
    cache's key is the address as sent)."""
    if "ref=email-" not in query_string:
        return None, query_string
    send_id = None
    kept = []
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        found = REF.fullmatch(value) if name == "ref" else None
        if found is None:
            kept.append(part)
        elif send_id is None:
            send_id = int(found.group(1))
    return send_id, "&".join(kept)


def flush_visits() -> int:
    """Move every count waiting in the cache into the database; returns the send visits moved."""
    return counting.flush_counts().get("send", 0)


def store_visits(totals: dict[tuple, int]) -> None:
    """The sink of the "send" counts: add each (send, day) total to its SendVisit row."""
    started = started_send_ids()
    for (send_id, day), count in totals.items():
        if send_id not in started:
            continue
        if not SendVisit.objects.filter(send_id=send_id, day=day).update(
            visits=F("visits") + count
        ):
            try:
                with transaction.atomic():
                    SendVisit.objects.create(send_id=send_id, day=day, visits=count)
            except IntegrityError:  # another flush created the row a moment ago
                SendVisit.objects.filter(send_id=send_id, day=day).update(
                    visits=F("visits") + count
                )


def count_send_visit(environ: dict) -> None:
    """The counting front's request hook: count a send's tagged visit, then take the tag off
    (so the page cache files a tagged click under the untagged page). The send's tag is left in
    the environ (lib.attribution.CAMPAIGN_ENVIRON) for the pages and page views that keep it."""
    send_id, query = send_tag(environ.get("QUERY_STRING", ""))
    if query != environ.get("QUERY_STRING", ""):
        environ["QUERY_STRING"] = query
    if send_id is not None:
        # For the pages that keep where a gift or signup started (never cached ones: the
        # donate page), and for page views; the cached pages never see it (lib.attribution).
        environ[CAMPAIGN_ENVIRON] = f"email-{send_id}"
    if send_id is None or environ.get("REQUEST_METHOD") != "GET":
        return None
    if settings.INSIGHT_COUNTING != "off" and counting.has_reader("page"):
        # Page views count it (insight: a public page served, once per reader, send and day;
        # in beacon mode, the page's beacon, as nginx may answer the page without Python).
        return None
    if send_id in started_send_ids() and not counting.is_machine(environ):
        # Only a page served counts (not a 404, a redirect, a refused host): lib.counting.
        counting.count_if_served(environ, "send", send_id, timezone.localdate())
    return None
