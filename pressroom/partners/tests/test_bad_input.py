"""Bad feeds, served by a real HTTP server on loopback: each is a recorded error on its feed
(or cleaned content), in bounded time and memory, and never stops the other feeds."""

from __future__ import annotations

import itertools
import time
import tracemalloc

import pytest

from pressroom.partners import polling, services
from pressroom.partners.models import Feed, Item
from pressroom.partners.tests.feedserver import drip, endless, gzip_bomb

pytestmark = pytest.mark.django_db

GOOD = b"""<rss version="2.0"><channel><title>Good</title><item><title>A good piece</title>
<link>https://good.example/piece</link><guid>good-1</guid></item></channel></rss>"""


def fetch(feeds, path: str) -> tuple[polling.FetchResult, Feed]:
    partner = services.add_partner(f"Partner {path}", [feeds.url + path])
    feed = partner.feeds.get()
    result = polling.fetch_feed(feed.pk)
    feed.refresh_from_db()
    return result, feed


def assert_failed(feed: Feed, message: str) -> None:
    assert feed.status == Feed.Status.FAILED
    assert message in feed.last_error
    assert feed.failures == 1
    assert feed.next_fetch_at > feed.last_fetched_at
    assert not Item.objects.filter(feed=feed).exists()


def test_malformed_xml_is_a_recorded_error(feeds):
    feeds.serve("/broken.xml", b"<?xml version='1.0'?><rss version='2.0'><channel><<title>&nope;")
    result, feed = fetch(feeds, "/broken.xml")
    assert result.error.startswith(("broken feed", "not a feed"))
    assert_failed(feed, result.error)


def test_an_html_page_served_as_a_feed_is_named_as_such(feeds):
    feeds.serve(
        "/feed",
        b"<!doctype html><html><head><title>Home</title></head><body><p>Hi</p>",
        "text/html",
    )
    _result, feed = fetch(feeds, "/feed")
    assert_failed(feed, "this address serves an HTML page, not a feed")


def test_json_that_is_not_a_json_feed_is_refused(feeds):
    feeds.serve("/feed.json", b'{"hello": "world"}', "application/json")
    _, feed = fetch(feeds, "/feed.json")
    assert_failed(feed, "not a feed: JSON without a jsonfeed.org version")


def test_a_gzip_bomb_stops_at_the_size_limit_in_bounded_memory(feeds, settings):
    settings.PARTNER_FEED_MAX_BYTES = 2 * 1024 * 1024
    bomb = gzip_bomb(200)  # 200 MB of zeros in about 200 kB
    feeds.routes["/bomb.xml"] = lambda request: (
        200,
        {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
        bomb,
    )
    tracemalloc.start()
    try:
        _, feed = fetch(feeds, "/bomb.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_failed(feed, f"larger than {2 * 1024 * 1024} bytes")
    assert peak < 30 * 1024 * 1024


@pytest.mark.parametrize("declared", [True, False])
def test_a_50_mb_feed_is_refused_at_the_limit(feeds, declared):
    if declared:
        big = b"<rss>" + b" " * (50 * 1024 * 1024)
        feeds.routes["/big.xml"] = lambda request: (200, {"Content-Type": "text/xml"}, big)
        message = "announced"
    else:
        feeds.routes["/big.xml"] = lambda request: (200, {}, endless(50))
        message = "is larger than 10485760 bytes"
    started = time.monotonic()
    _, feed = fetch(feeds, "/big.xml")
    assert_failed(feed, message)
    assert time.monotonic() - started < 60


def test_a_redirect_loop_is_a_recorded_error(feeds):
    feeds.routes["/loop"] = lambda request: (302, {"Location": "/loop2"}, b"")
    feeds.routes["/loop2"] = lambda request: (302, {"Location": "/loop"}, b"")
    _, feed = fetch(feeds, "/loop")
    assert_failed(feed, "more than 5 redirects")


def test_a_slow_server_is_cut_off_and_the_other_feeds_are_fetched(feeds, settings):
    settings.OUTBOUND_TOTAL_TIMEOUT = 2
    feeds.routes["/slow.xml"] = lambda request: (200, {}, drip(30))
    services.add_partner("Slow", [feeds.url + "/slow.xml"])
    feeds.serve("/good.xml", GOOD)
    good = services.add_partner("Good", [feeds.url + "/good.xml"])
    started = time.monotonic()
    results = polling.fetch_partner()
    assert time.monotonic() - started < 15
    errors = {result.url.rsplit("/", 1)[1]: result.error for result in results}
    assert "took too long" in errors["slow.xml"]
    assert errors["good.xml"] == ""
    assert Feed.objects.get(url__endswith="/slow.xml").status == Feed.Status.FAILED
    assert good.items.count() == 1


def test_a_feed_whose_guids_change_on_every_fetch_does_not_refill_the_queue(feeds):
    counter = itertools.count()

    def fresh_guids(request):
        n = next(counter)
        body = f"""<rss version="2.0"><channel><title>Shifty</title>
        <item><title>Land defenders meet in Lima</title><guid>guid-{n}-a</guid>
        <link>https://shifty.example/land?utm_source=feed-{n}&amp;utm_medium=rss</link></item>
        <item><title>Strike at the port of Callao</title><guid>guid-{n}-b</guid>
        <link>https://shifty.example/callao</link></item>
        </channel></rss>"""
        return 200, {"Content-Type": "application/rss+xml"}, body.encode()

    feeds.routes["/shifty.xml"] = fresh_guids
    first, feed = fetch(feeds, "/shifty.xml")
    assert first.new == 2
    for _ in range(3):
        again = polling.fetch_feed(feed.pk)
        assert (again.new, again.known) == (0, 2)
    assert Item.objects.count() == 2


def test_scripts_iframes_from_unknown_hosts_and_handlers_are_cleaned_on_republishing(
    feeds, editor_client
):
    feeds.serve(
        "/nasty.xml",
        b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
        <channel><title>Nasty</title><item><title>An ordinary headline</title>
        <link>https://nasty.example/a</link><guid>n-1</guid>
        <content:encoded><![CDATA[<p onclick="steal()">Text.</p><script>steal()</script>
        <iframe src="https://tracker.example/embed"></iframe>
        <iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"></iframe>
        <p><a href="javascript:steal()">link</a><img src="x" onerror="steal()"></p>]]></content:encoded>
        </item></channel></rss>""",
    )
    partner = services.add_partner("Nasty", [feeds.url + "/nasty.xml"], full_text=True)
    polling.fetch_feed(partner.feeds.get().pk)
    item = partner.items.get()
    preview = editor_client.get(f"/admin/partners/item/{item.pk}/change/").content.decode()
    article = services.republish_item(item, mode=services.Mode.DRAFT).article
    for body in (article.body, preview.split('class="preview">', 1)[1]):
        assert "steal" not in body
        assert "tracker.example" not in body
        assert "<script" not in body
    assert "Text." in article.body
    assert "youtube-nocookie.com/embed/dQw4w9WgXcQ" in article.body  # a known player stays


def test_an_item_with_huge_fields_is_cut_to_size(feeds):
    title = "T" * 5000
    feeds.serve(
        "/huge.xml",
        f"""<rss version="2.0"><channel><title>Huge</title><item><title>{title}</title>
        <guid>{"g" * 5000}</guid><description>{"d" * 50_000}</description>
        <link>https://huge.example/{"p" * 3000}</link></item></channel></rss>""".encode(),
    )
    result, _feed = fetch(feeds, "/huge.xml")
    assert result.new == 1
    item = Item.objects.get()
    assert len(item.title) == 300
    assert len(item.guid) <= 1000
    assert len(item.summary) == 5000
