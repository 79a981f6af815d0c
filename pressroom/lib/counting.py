"""Counting readers' requests without tracking them, and without a database write on the request.

One layer for every count the site keeps (a send's tagged visits, page views): it sits at the
WSGI front (pressroom/wsgi.py wraps the page cache's front in `CountingFront`), so a page the
page cache answers is counted like a fresh one. Apps register what they watch from their
`AppConfig.ready()`:

- `register_request_hook(hook)`: called with the environ before anything answers (it may take a
  tag off the address, as the newsletter's send visits do, note a page view, or answer a beacon
  by itself);
- `register_reader(kind, reader)`: given the notes of its kind (see below), turns them into
  counts, in the web process but off the request;
- `register_sink(kind, sink)`: given the totals of its kind, moves them into the database.

On the request path a count is one addition to a dictionary of this process (`count()`), or
for page views, which must cost a cached page next to nothing (a cached page is ~16 µs of
Python), a note of the request's raw headers appended to a list (`note()`): no parsing, no
hashing, no cache round trip, no database. Every few seconds a background thread of the
process (never a reader's request) reads its notes (the reader parses, drops bots, hashes;
identical notes once) and hands its totals to the cache as one batch (`push_counts`); the worker
moves the batches into the database every minute (`flush_counts`, claiming each batch first so
that two workers never move one twice). With a cache the worker cannot share safely (local
memory, a dummy cache, or files, whose `incr` is not atomic), the totals never go through the
cache, where the page cache's culling would erase them: the process keeps them and its
background thread moves them into the database once a minute.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

logger = logging.getLogger(__name__)

# Words in a User-Agent that mark a machine, not a reader (crawlers, link previews, scanners);
# crawlerdetect's list (kept up to date upstream) catches the rest.
BOT_WORDS = ("bot", "crawler", "spider", "preview", "scanner", "slurp")
USER_AGENT_MAX = 500
USER_AGENT_MIN = 10
# A process hands its totals to the cache this often (a restart loses at most this much), or
# sooner when it holds this many different keys (a flood of made-up values stays bounded).
PUSH_SECONDS = 5
PENDING_KEYS_MAX = 20_000
NOTES_MAX = 5_000
FLUSH_SECONDS = 60
# Batches wait in the cache this long for a worker; one the worker cannot read after a minute
# (its process died between numbering and writing it) is given up.
BATCH_SECONDS = 3 * 86400
MISSING_SECONDS = 60
BATCHES_PER_FLUSH = 2_000
# Caches whose batches the worker could not read whole: each process's own (local memory, dummy),
# or files, whose incr() is a read and a write (two processes would take one number).
PER_PROCESS_BACKENDS = (".LocMemCache", ".DummyCache", ".FileBasedCache")
# Notes past this many (the background thread stuck behind a slow database) are dropped and
# logged rather than kept without bound.
NOTES_HARD_MAX = 4 * NOTES_MAX
# False in tests, which hand the counts on themselves when they mean to (conftest.py).
BACKGROUND = True

# Notes and counts a request hook keeps until the answer's status is known: only a page that
# was served (2xx, or 304 for a reader's cached copy) counts; a 404, a redirect, a 400 for a
# host not served here, or an error does not.
DEFERRED_ENVIRON = "pressroom.counting.deferred"
COUNTED_STATUSES = ("2", "304")

SEQUENCE_KEY = "counting:sequence"
LOW_KEY = "counting:low"

Key = tuple[Hashable, ...]
RequestHook = Callable[[dict], "tuple[str, list[tuple[str, str]], bytes] | None"]
Sink = Callable[[dict[Key, int]], None]
Reader = Callable[["Counter[tuple]"], None]

_request_hooks: list[RequestHook] = []
_sinks: dict[str, Sink] = {}
_readers: dict[str, Reader] = {}
_notes: dict[str, list[tuple]] = {}
_pending: Counter[Key] = Counter()
_pending_lock = threading.Lock()
_last_push = time.monotonic()
_last_flush = time.monotonic()
_wake = threading.Event()
_thread_pid = 0
_thread_lock = threading.Lock()
_dropped = 0
_threads: list[threading.Thread] = []


def register_request_hook(hook: RequestHook) -> None:
    if hook not in _request_hooks:
        _request_hooks.append(hook)


def register_sink(kind: str, sink: Sink) -> None:
    _sinks[kind] = sink


def register_reader(kind: str, reader: Reader) -> None:
    _readers[kind] = reader
    _notes.setdefault(kind, [])


def has_reader(kind: str) -> bool:
    return kind in _readers


def note(kind: str, fields: tuple) -> None:
    """Keep a request's raw fields for the kind's reader (one list append: the request path's
    whole cost). Bounded: past NOTES_MAX notes they are read and handed on at once."""
    global _dropped
    notes = _notes[kind]
    if len(notes) >= NOTES_HARD_MAX:
        _dropped += 1
        return
    notes.append(fields)
    if len(notes) >= NOTES_MAX and not _wake.is_set():
        # The background thread reads them now, not this request. is_set() first: the event
        # stays set until the thread takes the notes, and set() is a lock and a notify.
        _wake.set()


def note_if_served(environ: dict, kind: str, fields: tuple) -> None:
    """note(), once the answer to this request turns out to be a page served (CountingFront)."""
    environ.setdefault(DEFERRED_ENVIRON, []).append((kind, fields))


def count_if_served(environ: dict, kind: str, *fields: Hashable) -> None:
    """count(), once the answer to this request turns out to be a page served."""
    environ.setdefault(DEFERRED_ENVIRON, []).append((None, (kind, *fields)))


def _served(deferred: list[tuple[str | None, tuple]]) -> None:
    for kind, fields in deferred:
        if kind is None:
            count(*fields)
        else:
            note(kind, fields)


def read_notes() -> None:
    """Give each reader the notes taken since the last time, identical notes counted once."""
    for kind, reader in _readers.items():
        with _pending_lock:
            notes, _notes[kind] = _notes.get(kind, []), []
        if not notes:
            continue
        try:
            reader(Counter(notes))
        except Exception:  # a reader's bug must not lose the other counts
            logger.warning("counting: %d %s notes not read", len(notes), kind, exc_info=True)


def count(kind: str, *fields: Hashable, amount: int = 1) -> None:
    """Add to this process's total for (kind, *fields): a dictionary update, nothing more."""
    with _pending_lock:
        _pending[(kind, *fields)] += amount
        full = len(_pending) >= PENDING_KEYS_MAX
    if full:
        _wake.set()


def forget_pending() -> None:
    """Drop this process's totals not handed on yet (tests: each starts as a fresh process)."""
    with _pending_lock:
        _pending.clear()
        for notes in _notes.values():
            notes.clear()


def count_many(totals: dict[Key, int]) -> None:
    """count() for many keys at once (a reader's totals), under one lock."""
    with _pending_lock:
        _pending.update(totals)
        full = len(_pending) >= PENDING_KEYS_MAX
    if full:
        _wake.set()


def push_counts() -> int:
    """Hand this process's totals to the cache as one numbered batch; returns the keys handed.
    With a cache the worker cannot share (`cache_is_per_process`), the totals stay in the
    process for `flush_counts` (nothing goes into a cache that culls or drops what it keeps)."""
    global _last_push
    read_notes()
    if cache_is_per_process():
        _last_push = time.monotonic()
        return 0
    with _pending_lock:
        items = list(_pending.items())
        _pending.clear()
        _last_push = time.monotonic()
    if not items:
        return 0
    cache.add(SEQUENCE_KEY, 0, timeout=None)
    number = cache.incr(SEQUENCE_KEY)
    cache.set(batch_key(number), (uuid.uuid4().hex, items), timeout=BATCH_SECONDS)
    return len(items)


def batch_key(number: int) -> str:
    return f"counting:batch:{number}"


def flush_counts() -> dict[str, int]:
    """Move every batch waiting in the cache into the database; returns the total per kind.

    Each batch is claimed in the cache before it is moved (two workers never move one twice),
    and the database writes of one batch are one transaction. Running it twice moves nothing
    twice."""
    if cache_is_per_process():
        return _flush_own()
    push_counts()
    moved: Counter[str] = Counter()
    last = int(cache.get(SEQUENCE_KEY) or 0)
    low = max(int(cache.get(LOW_KEY) or 1), last - BATCHES_PER_FLUSH + 1, 1)
    numbers = list(range(low, last + 1))
    found = cache.get_many([batch_key(number) for number in numbers]) if numbers else {}
    new_low = last + 1
    for number in numbers:
        key = batch_key(number)
        batch = found.get(key)
        if batch is None:
            if not cache.get(f"counting:done:{number}") and _still_expected(number):
                new_low = min(new_low, number)
            continue
        if not cache.add(f"counting:done:{number}", 1, timeout=BATCH_SECONDS):
            new_low = min(new_low, number)  # another worker is moving it (or will try again)
            continue
        _batch_id, items = batch
        try:
            moved.update(_move(items))
        except Exception:
            cache.delete(f"counting:done:{number}")  # tried again on the next run
            new_low = min(new_low, number)
            logger.warning("counting: batch %s not moved", number, exc_info=True)
            continue
        cache.delete(key)
    cache.set(LOW_KEY, new_low, timeout=None)
    return dict(moved)


def _flush_own() -> dict[str, int]:
    """A per-process cache: this process's totals, moved into the database straight from its
    memory (put back if the database refuses them, for the next try)."""
    read_notes()
    with _pending_lock:
        items = list(_pending.items())
        _pending.clear()
    if not items:
        return {}
    try:
        return dict(_move(items))
    except Exception:
        with _pending_lock:
            _pending.update(dict(items))
        raise


def _still_expected(number: int) -> bool:
    """A numbered batch not in the cache yet: its process is writing it (wait), or died (after
    a minute, give it up)."""
    key = f"counting:missing:{number}"
    cache.add(key, time.time(), timeout=BATCH_SECONDS)
    return time.time() - float(cache.get(key) or 0) < MISSING_SECONDS


def _move(items: Iterable[tuple[Key, int]]) -> Counter[str]:
    by_kind: dict[str, dict[Key, int]] = {}
    for key, amount in items:
        kind = str(key[0])
        totals = by_kind.setdefault(kind, {})
        totals[key[1:]] = totals.get(key[1:], 0) + int(amount)
    moved: Counter[str] = Counter()
    with transaction.atomic():
        for kind, totals in by_kind.items():
            sink = _sinks.get(kind)
            if sink is None:
                logger.warning("counting: no sink for %r; %d counts dropped", kind, len(totals))
                continue
            sink(totals)
            moved[kind] += sum(totals.values())
    return moved


@lru_cache(maxsize=4096)
def agent_is_machine(agent: str) -> bool:
    """A bot, crawler, spider, link preview, or no browser at all: a missing or very short user
    agent (every browser sends a long one; scripts often send none)."""
    if len(agent.strip()) < USER_AGENT_MIN:
        return True
    lowered = agent.lower()
    if any(word in lowered for word in BOT_WORDS):
        return True
    return _crawler_detect().isCrawler(agent)


@lru_cache(maxsize=1)
def _crawler_detect():  # crawlerdetect has no types
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


def is_machine(environ: dict) -> bool:
    """True for a user agent that says it is a bot, crawler, spider or link preview, or for
    none (agent_is_machine). Cached per
    user agent: crawlerdetect's patterns take ~0.4 ms."""
    return agent_is_machine(environ.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX])


@lru_cache(maxsize=1)
def cache_is_per_process() -> bool:
    """Each process has a cache of its own (local memory): the worker cannot read it."""
    return settings.CACHES["default"]["BACKEND"].endswith(PER_PROCESS_BACKENDS)


def hand_on() -> None:
    """The background thread's step: read the notes and hand the totals to the cache; with a
    per-process cache, move them into the database at most once a minute (sooner when many
    keys are waiting)."""
    global _last_flush, _dropped
    if _dropped:
        logger.warning("counting: %d notes dropped (the counting thread fell behind)", _dropped)
        _dropped = 0
    if not cache_is_per_process():
        push_counts()
        return
    now = time.monotonic()
    if now - _last_flush < FLUSH_SECONDS and len(_pending) < PENDING_KEYS_MAX:
        read_notes()
        return
    _last_flush = now
    flush_counts()


def _run_in_background() -> None:
    while BACKGROUND:
        _wake.wait(PUSH_SECONDS)
        _wake.clear()
        try:
            hand_on()
        except Exception:
            logger.warning("counting: counts not handed on", exc_info=True)
        finally:
            connection.close()  # this thread's own connection: not kept open between runs


def start_background() -> None:
    """Start this process's counting thread (once per process: a forked child starts its own)."""
    global _thread_pid
    pid = os.getpid()
    if _thread_pid == pid or not BACKGROUND:
        return
    with _thread_lock:
        if _thread_pid == pid:
            return
        thread = threading.Thread(target=_run_in_background, name="pressroom-counting", daemon=True)
        thread.start()
        _thread_pid = pid
        _threads.append(thread)


@atexit.register
def _hand_on_at_exit() -> None:
    """A process that stops hands on what it holds (a restart loses nothing it can save)."""
    if not BACKGROUND or _thread_pid != os.getpid():
        return
    try:
        flush_counts() if cache_is_per_process() else push_counts()
    except Exception:
        logger.warning("counting: counts lost at exit", exc_info=True)


class CountingFront:
    """The WSGI front's first step: the request hooks, then the application. A count is never
    worth a reader's page: any error in a hook is logged, and the page goes out."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if _thread_pid != os.getpid():
            start_background()
        for hook in _request_hooks:
            try:
                answer = hook(environ)
            except Exception:
                logger.warning("counting: request not counted", exc_info=True)
                continue
            if answer is not None:  # the hook answered by itself (a beacon)
                status, headers, body = answer
                start_response(status, headers)
                if status.startswith(COUNTED_STATUSES) and DEFERRED_ENVIRON in environ:
                    _served(environ[DEFERRED_ENVIRON])
                return [body]
        if DEFERRED_ENVIRON not in environ:
            return self.application(environ, start_response)
        answered: list[str] = []

        def noting_status(status: str, headers: list, exc_info: object = None) -> Callable:
            answered.append(status)
            return start_response(status, headers, exc_info)

        result = self.application(environ, noting_status)
        # The applications answer before returning (Django, the page cache); a streamed answer
        # that has not started yet is not counted.
        if answered and answered[-1].startswith(COUNTED_STATUSES):
            try:
                _served(environ[DEFERRED_ENVIRON])
            except Exception:
                logger.warning("counting: request not counted", exc_info=True)
        return result
