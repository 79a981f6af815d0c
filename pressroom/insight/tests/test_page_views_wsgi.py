"""Page views counted at the WSGI front, as production serves pages (the counting front, the page
cache's front, Django): cached pages count like fresh ones, nothing is written on the request,
and nothing about the reader is kept."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from pressroom.accounts.tests.test_limits import redis_cache  # noqa: F401
from pressroom.insight import counting as insight_counting
from pressroom.insight import tasks
from pressroom.insight.models import PageView
from pressroom.insight.tests.front import BROWSER, keep_test_transaction, serve  # noqa: F401
from pressroom.lib import counting
from pressroom.newsletter.models import Digest, OneOffEmail, SendVisit
from pressroom.newsletter.tests.conftest import run_worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_test_transaction")]


def views_of(path: str) -> tuple[int, int]:
    rows = PageView.objects.filter(path=path)
    return sum(row.views for row in rows), sum(row.visitors for row in rows)


def test_views_are_counted_cached_or_not_and_nothing_is_written_while_readers_read(
    make_article,
):
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    caches = [serve(path)[1].get("X-Page-Cache") for _ in range(4)]
    assert caches == ["miss", "hit", "hit", "hit"]
    serve(path, address="198.51.100.20")  # a second reader
    assert PageView.objects.count() == 0  # nothing written on the request path
    moved = counting.flush_counts()
    assert moved == {"view": 5 + 2}  # five views by two readers (visitors: rows' "view" too)
    row = PageView.objects.get(path=path)
    assert (row.kind, row.views, row.visitors, row.day) == ("article", 5, 2, timezone.localdate())
    assert counting.flush_counts() == {}  # moved once: a second run adds nothing
    assert views_of(path) == (5, 2)


def test_every_kind_of_public_page_is_counted_and_nothing_else(make_article, topic, author):
    article = make_article(title="Miners march on Lima")
    public = {
        "/": "home",
        article.get_absolute_url(): "article",
        topic.get_absolute_url(): "topic",
        author.get_absolute_url(): "author",
        "/search/?q=miners": "search",
    }
    for path in public:
        assert serve(path)[0].startswith("200"), path
    for path in ("/feed/", "/topics/", "/digest/", "/articles/no-such-story/", "/robots.txt"):
        serve(path)
    serve(article.get_absolute_url(), method="HEAD")
    serve("/search/", method="POST")
    counting.flush_counts()
    stored = dict(PageView.objects.values_list("path", "kind"))
    assert stored == {path.partition("?")[0]: kind for path, kind in public.items()}


def test_referrer_domain_only_and_campaign_tags_are_kept(make_article):
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    serve(path, referer="https://WWW.Example.ORG/some/page?secret=1#frag")
    serve(
        path + "?utm_campaign=Spring-Drive&utm_source=Mastodon", referer="https://social.example/"
    )
    serve(path, referer="http://testserver/topics/peru/")  # our own site: no referrer
    serve(path + "?utm_campaign=<script>&utm_source=" + "x" * 500)  # garbage: dropped
    counting.flush_counts()
    rows = set(PageView.objects.values_list("referrer", "campaign", "source", "views"))
    assert rows == {
        ("example.org", "", "", 1),
        ("social.example", "spring-drive", "mastodon", 1),
        ("", "", "", 2),
    }


@pytest.mark.parametrize(
    ("referer", "domain"),
    [
        ("https://news.example.org/a/b?c=d", "news.example.org"),
        ("HTTPS://WWW.EXAMPLE.ORG", "example.org"),
        ("https://perú.example/", "xn--per-boa.example"),
        ("http://127.0.0.1:8000/", ""),
        ("https://[::1]/", ""),
        ("javascript:alert(1)", ""),
        ("android-app://com.example/", ""),
        ("https://exa mple.org/", ""),
        ("https://" + "a" * 300 + ".org/", ""),
        ("https://testserver/", ""),
        ("https://localhost/", ""),
        ("http://[bad/", ""),
        ("", ""),
        ("https://" + "a." * 600 + "org", ""),
    ],
)
def test_forged_or_garbage_referrers_name_no_site(referer, domain):
    assert insight_counting.referrer_domain(referer, "testserver") == domain


def test_do_not_track_and_global_privacy_control_count_the_view_but_never_the_visitor(
    make_article,
):
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    serve(path, dnt="1")
    serve(path, sec_gpc="1", address="198.51.100.30")
    counting.flush_counts()
    assert views_of(path) == (2, 0)


@pytest.mark.parametrize("shared_cache", [False, True], ids=["own cache", "shared cache"])
def test_a_batch_of_many_readers_on_a_few_pages_counts_each_page_and_reader_once(
    make_article, monkeypatch, shared_cache
):
    """The reader takes a batch a page at a time: each page's views, and each reader once per
    page and day whatever referrer brought them, the same reader on two pages on each."""
    monkeypatch.setattr(counting, "cache_is_per_process", lambda: shared_cache is False)
    first = make_article(title="Miners march on Lima").get_absolute_url()
    second = make_article(title="Fishers block the port").get_absolute_url()
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1"):
        serve(first, address=address)
    serve(first, address="203.0.113.1", referer="https://news.example/")  # a row of its own
    serve(first, address="203.0.113.4", dnt="1")
    serve(second, address="203.0.113.1")
    serve(second, address="203.0.113.1", user_agent=BROWSER.replace("140", "141"))  # another
    counting.flush_counts()
    assert views_of(first) == (6, 3)
    assert views_of(second) == (2, 2)
    assert PageView.objects.get(path=first, referrer="news.example").visitors == 0


@pytest.mark.parametrize("shared_cache", [False, True], ids=["own cache", "shared cache"])
def test_a_campaign_shaped_like_a_sends_tag_is_dropped_and_loses_no_other_view(
    make_article, monkeypatch, shared_cache
):
    """Review finding: utm_campaign=email-x once broke the reading of the whole batch (every
    view of the process for those seconds); email-01 passed for send 1."""
    monkeypatch.setattr(counting, "cache_is_per_process", lambda: shared_cache is False)
    path = make_article(title="Miners march on Lima").get_absolute_url()
    serve(path, address="203.0.113.1")
    for campaign in ("email-x", "email-", "email-0", "email-01", "email-1.5", "email-1"):
        serve(f"{path}?utm_campaign={campaign}", address="203.0.113.2")
    serve(path, address="203.0.113.3")
    counting.flush_counts()
    assert views_of(path) == (8, 3)
    assert set(PageView.objects.values_list("campaign", flat=True)) == {""}
    assert not SendVisit.objects.exists()


def test_bots_are_not_counted(make_article):
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    for agent in (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Slackbot-LinkExpanding 1.0",
        "python-requests/2.32.3",  # crawlerdetect's list, not the project's words
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
    ):
        serve(path, user_agent=agent)
    serve(path)  # one reader
    counting.flush_counts()
    assert views_of(path) == (1, 1)


def test_nothing_about_the_reader_is_stored(make_article):
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    _status, headers, _body = serve(path, referer="https://example.org/private/page")
    assert "Set-Cookie" not in headers
    counting.flush_counts()
    salt = insight_counting.daily_salt(timezone.localdate())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, path, kind, referrer, campaign, source, views, visitors "
            "FROM insight_pageview"
        )
        stored = repr(cursor.fetchall())
    for secret in ("203.0.113.7", "Firefox", "private/page", salt.hex()):
        assert secret not in stored
    assert {field.name for field in PageView._meta.get_fields()} == {
        "id",
        "day",
        "path",
        "kind",
        "referrer",
        "campaign",
        "source",
        "views",
        "visitors",
    }


def test_the_salt_rotates_daily_and_yesterdays_is_forgotten():
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    old = insight_counting.daily_salt(yesterday)
    assert cache.get(f"insight:salt:{yesterday.isoformat()}") == old
    insight_counting.forget_salt()
    new = insight_counting.daily_salt(today)
    assert new != old
    assert len(new) == 32
    assert cache.get(f"insight:salt:{yesterday.isoformat()}") is None


def test_a_sends_tagged_visit_is_a_view_with_its_campaign_and_a_send_visit(make_article):
    article = make_article(title="Miners march on Lima")
    now = timezone.now()
    send = OneOffEmail.objects.create(
        kind=Digest.Kind.APPEAL,
        subject="Appeal",
        body="<p>Give.</p>",
        status=Digest.Status.SENT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
        started_at=now - timedelta(hours=1),
    )
    serve(f"{article.get_absolute_url()}?ref=email-{send.pk}")
    serve(f"{article.get_absolute_url()}?ref=email-999999")  # made up: a view, no campaign
    counting.flush_counts()
    assert set(PageView.objects.values_list("campaign", "views")) == {
        (f"email-{send.pk}", 1),
        ("", 1),
    }
    assert SendVisit.objects.get(send=send).visits == 1


@pytest.mark.django_db(transaction=True)  # the worker opens and closes connections
def test_the_worker_moves_the_counts_to_the_database(make_article):
    article = make_article(title="Miners march on Lima")
    for _ in range(3):
        serve(article.get_absolute_url())
    counting.push_counts()  # what the web process does every few seconds
    tasks.flush_counts.enqueue()
    run_worker()  # the real task worker, in batch mode
    assert views_of(article.get_absolute_url()) == (3, 1)


def test_a_flood_of_made_up_values_stays_bounded(make_article, monkeypatch):
    """Distinct keys held by a process are bounded: past the bound they go to the cache."""
    article = make_article(title="Miners march on Lima")
    monkeypatch.setattr(counting, "PENDING_KEYS_MAX", 50)
    monkeypatch.setattr(counting, "NOTES_MAX", 30)
    for number in range(120):
        serve(f"{article.get_absolute_url()}?utm_campaign=c{number}")
        if len(counting._notes["page"]) >= 30:
            assert counting._wake.is_set()  # the counting thread is woken, the request goes on
        while counting._wake.is_set():  # what that thread does when woken
            counting._wake.clear()
            counting.hand_on()
        assert len(counting._notes["page"]) < 30
        assert len(counting._pending) < 50
    counting.flush_counts()
    assert views_of(article.get_absolute_url())[0] == 120


def test_counts_survive_a_flood_that_culls_the_local_memory_cache(make_article, settings):
    """Review finding 3: with CACHE_URL=locmem:// the totals never go through the cache that
    the page cache fills (and culls): 6,000 made-up addresses later, every view is counted."""
    article = make_article(title="Miners march on Lima")
    serve(article.get_absolute_url())
    counting.push_counts()  # what the counting thread does every few seconds
    for number in range(6_000):  # stored pages (and anything else) culled from the cache
        cache.set(f"flood:{number}", b"x" * 10)
    serve(article.get_absolute_url())
    counting.flush_counts()
    assert views_of(article.get_absolute_url()) == (2, 1)


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.filebased.FileBasedCache",
    ],
)
def test_counts_are_kept_with_a_dummy_or_file_cache(make_article, settings, tmp_path, backend):
    """Review finding 3: a dummy cache keeps nothing (its incr raises), a file cache's incr is
    not atomic: the process keeps its own totals and moves them itself."""
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": str(tmp_path / "cache")}}
    counting.cache_is_per_process.cache_clear()
    try:
        article = make_article(title="Miners march on Lima")
        serve(article.get_absolute_url())
        serve(article.get_absolute_url())
        counting.push_counts()
        assert counting.flush_counts() == {"view": 3}  # two views, one visitor
        assert views_of(article.get_absolute_url()) == (2, 1)
    finally:
        counting.cache_is_per_process.cache_clear()


def test_a_batch_is_moved_once_even_when_two_workers_flush(make_article, monkeypatch):
    monkeypatch.setattr(counting, "cache_is_per_process", lambda: False)  # Redis
    article = make_article(title="Miners march on Lima")
    serve(article.get_absolute_url())
    counting.push_counts()
    # The first worker has claimed the batch (and is moving it): the second leaves it alone.
    cache.add("counting:done:1", 1)
    assert counting.flush_counts() == {}
    cache.delete("counting:done:1")
    assert counting.flush_counts() == {"view": 1, "visitor": 1}
    assert views_of(article.get_absolute_url()) == (1, 1)


def test_with_a_shared_cache_a_reader_seen_by_two_processes_is_one_visitor(
    make_article, monkeypatch
):
    """With Redis, each web process knows only its own readers: the worker asks the shared
    cache, where a day's digest is added once, whichever process saw it first."""
    monkeypatch.setattr(counting, "cache_is_per_process", lambda: False)
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    serve(path)
    counting.push_counts()  # the first process hands its counts on
    insight_counting._seen_here.clear()  # the same reader, answered by another process
    serve(path)
    serve(path, address="198.51.100.40")
    assert counting.flush_counts() == {"view": 3, "visitor": 3}  # three digests checked
    assert views_of(path) == (3, 2)


@pytest.mark.django_db(transaction=True)  # the counting thread writes with its own connection
def test_the_counting_thread_reads_and_moves_the_counts_never_a_request(make_article, monkeypatch):
    """Review finding 4: reading the notes (crawlerdetect, hashing) and the database writes
    happen in the process's counting thread; the requests only append a note."""
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    where: list[str] = []
    real_move, real_read = counting._move, insight_counting.read_views

    def move(items):
        where.append(threading.current_thread().name)
        return real_move(items)

    def read(notes):
        where.append(threading.current_thread().name)
        return real_read(notes)

    monkeypatch.setattr(counting, "_move", move)
    monkeypatch.setitem(counting._readers, "page", read)
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 0)
    monkeypatch.setattr(counting, "PUSH_SECONDS", 0.05)
    monkeypatch.setattr(counting, "BACKGROUND", True)
    monkeypatch.setattr(counting, "_thread_pid", 0)
    try:
        for _ in range(3):
            assert serve(path)[0] == "200 OK"
        deadline = time.monotonic() + 20
        while views_of(path) != (3, 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert views_of(path) == (3, 1)
    finally:
        counting.BACKGROUND = False
        counting._wake.set()
        for thread in counting._threads:
            thread.join(5)
        counting._threads.clear()
    assert set(where) == {"pressroom-counting"}  # read and moved there, and only there


def test_made_up_referrers_and_campaigns_add_no_row_past_the_days_cap(make_article, monkeypatch):
    """Review finding 1: random utm_campaign, utm_source and referrer domains on every request
    make at most VALUES_PER_DAY_MAX different values of each a day; the rest are "(other)"."""
    monkeypatch.setattr(insight_counting, "VALUES_PER_DAY_MAX", 5)
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    for number in range(50):
        serve(
            f"{path}?utm_campaign=c{number}&utm_source=s{number}",
            referer=f"https://r{number}.example.com/",
            address=f"198.51.100.{number}",
        )
        if number in (3, 40):
            counting.flush_counts()  # capped across flushes, not only within one
    counting.flush_counts()
    assert PageView.objects.count() == 6  # five values of each, then one "(other)" row
    other = PageView.objects.get(campaign="(other)")
    assert (other.referrer, other.source, other.views, other.visitors) == (
        "(other)",
        "(other)",
        45,
        45,
    )
    assert views_of(path) == (50, 50)


def test_requests_that_are_not_a_reader_reading_a_page_are_not_counted(make_article, settings):
    """Review finding 5: no or a very short user agent, a prefetch or prerender, a host not
    served here (400), a page that is not found (404): none counts. A 200 does."""
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    assert serve(path, user_agent="")[0] == "200 OK"
    serve(path, user_agent="curl/8")
    serve(path, sec_purpose="prefetch;prerender")
    serve(path, purpose="prefetch")
    assert serve(path, host="evil.example")[0].startswith("400")
    assert serve("/articles/no-such-story/")[0].startswith("404")
    counting.flush_counts()
    assert not PageView.objects.exists()
    serve(path)
    counting.flush_counts()
    assert views_of(path) == (1, 1)


def test_a_send_tag_on_a_page_not_served_counts_no_visit(make_article):
    """Review finding 6: ?ref=email-N on a 404 or a redirect counts no visit of the send."""
    now = timezone.now()
    send = Digest.objects.create(
        subject="Appeal",
        body="<p>Give.</p>",
        status=Digest.Status.SENT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
        started_at=now - timedelta(hours=1),
    )
    assert serve(f"/articles/no-such-story/?ref=email-{send.pk}")[0].startswith("404")
    counting.flush_counts()
    assert not SendVisit.objects.exists()
    serve(f"/admin/login/?ref=email-{send.pk}")  # served, but no public page
    serve(f"/static/no-such-file.css?ref=email-{send.pk}")
    counting.flush_counts()
    assert not SendVisit.objects.exists()
    article = make_article(title="Miners march on Lima")
    for _ in range(5):  # one reader, five times: one visit
        serve(f"{article.get_absolute_url()}?ref=email-{send.pk}")
    serve(f"/?ref=email-{send.pk}")  # the same reader on another page of the send: still one
    counting.flush_counts()
    assert SendVisit.objects.get(send=send).visits == 1
    serve(f"{article.get_absolute_url()}?ref=email-{send.pk}", address="198.51.100.9")
    counting.flush_counts()
    assert SendVisit.objects.get(send=send).visits == 2


def test_a_send_tag_typed_into_utm_campaign_is_not_stored_as_a_send(make_article):
    """Review finding 8: ?utm_campaign=email-999 would read as send 999 in the Campaigns
    report: the view counts, with no campaign."""
    path = make_article(title="Miners march on Lima").get_absolute_url()
    serve(f"{path}?utm_campaign=email-999&utm_source=email-1")
    counting.flush_counts()
    assert list(PageView.objects.values_list("campaign", "source", "views")) == [("", "", 1)]


def test_with_redis_visitors_are_checked_without_a_key_per_reader(make_article, redis_cache):  # noqa: F811
    """Review finding 9: with a real Redis, a flood of readers adds one HyperLogLog per page and
    day (bounded in size), not one key per reader that would crowd stored pages out."""
    counting.cache_is_per_process.cache_clear()
    insight_counting.forget_salt()
    try:
        assert not counting.cache_is_per_process()
        path = make_article(title="Miners march on Lima").get_absolute_url()
        for number in range(200):
            serve(path, address=f"198.51.{number // 250}.{number % 250}")
        serve(path, address="198.51.0.0")  # a reader seen already
        counting.flush_counts()
        views, visitors = views_of(path)
        assert views == 201
        assert 196 <= visitors <= 200  # HyperLogLog: exact or a hair under, never over
        client = redis_cache._cache.get_client()
        seen = [key for key in client.keys("*") if b"insight:seen" in key]
        assert len(seen) == 1
        assert client.type(seen[0]) == b"string"  # a HyperLogLog is a string in Redis
        assert 190 <= client.pfcount(seen[0]) <= 210  # an estimate of the readers seen
    finally:
        counting.cache_is_per_process.cache_clear()


def test_a_view_just_before_midnight_counts_on_its_own_day(make_article, monkeypatch):
    """Review finding 14: the day is the view's, not the day its note is read on."""
    path = make_article(title="Miners march on Lima").get_absolute_url()
    yesterday = timezone.localdate() - timedelta(days=1)
    just_before_midnight = timezone.make_aware(
        datetime.combine(yesterday, datetime.max.time())
    ) - timedelta(seconds=20)
    monkeypatch.setattr(insight_counting, "wall_clock", just_before_midnight.timestamp)
    serve(path)
    monkeypatch.undo()  # read (and moved) today
    counting.flush_counts()
    assert list(PageView.objects.values_list("day", "views")) == [(yesterday, 1)]
