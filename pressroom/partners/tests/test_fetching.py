"""Feeds fetched over real HTTP on loopback: RSS 2.0 with content:encoded, Atom, JSON Feed and
WordPress's feed land in the queue; a second fetch is a conditional GET; duplicates merge."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.partners import polling, services
from pressroom.partners.models import Feed, Item, Partner

pytestmark = pytest.mark.django_db


def add(name: str, url: str, **options) -> Partner:
    return services.add_partner(name, [url], **options)


def test_rss2_with_content_encoded_lands_in_the_queue_with_authors_and_full_text(feeds):
    partner = add("NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml"), full_text=True)
    result = polling.fetch_feed(partner.feeds.get().pk)
    assert (result.new, result.known, result.failed, result.error) == (2, 0, 0, "")
    first = Item.objects.in_queue().newest_first().first()
    assert first.title == "Peru’s Miners March on Lima"
    assert first.authors == ["Rosa Huamán"]
    assert first.categories == ["Peru"]
    assert "formalisation law" in first.content
    assert first.summary == "Thousands of informal miners reached the capital."
    assert first.link == "https://nacla.example/news/peru-miners-march"  # no utm_* kept
    assert first.link_key == "nacla.example/news/peru-miners-march"
    assert first.published_at.isoformat() == "2026-11-29T14:00:00+00:00"


def test_atom_json_feed_and_wordpress_feeds_are_read(feeds):
    atom = add(
        "Upside Down World", feeds.serve_file("/atom", "upside-atom.xml", "application/atom+xml")
    )
    json_feed = add(
        "Waging Nonviolence",
        feeds.serve_file("/feed.json", "waging-jsonfeed.json", "application/feed+json"),
    )
    wordpress = add("El Grito", feeds.serve_file("/wp/feed/", "wordpress-feed.xml"))
    for partner in (atom, json_feed, wordpress):
        assert polling.fetch_feed(partner.feeds.get().pk).error == ""
    assert list(atom.items.values_list("title", flat=True).order_by("title")) == [
        "Bolivia's lithium: who decides?",
        "PERU'S MINERS MARCH ON LIMA!",
    ]
    chile = json_feed.items.get(guid="wnv-77")
    assert chile.authors == ["Pablo Soto"]
    assert chile.categories == ["Chile", "Labor"]
    assert chile.content == "<p>Port by port, a strike spread along the coast of Chile.</p>"
    oaxaca = json_feed.items.get(guid="wnv-76")
    assert oaxaca.content == "<p>Summary-free text only.</p>"
    assert oaxaca.authors == ["WNV staff"]  # the feed's authors, when the item names none
    post = wordpress.items.get()
    assert post.guid == "https://elgrito.example/?p=31337"
    assert post.authors == ["Julia Ferreyra"]
    assert post.categories == ["Argentina", "Vivienda"]
    assert "La asamblea se reúne cada martes." in post.content


def test_the_second_fetch_is_a_conditional_get_answered_not_modified(feeds, settings):
    settings.SITE_NAME = "Movement News"
    partner = add("NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml"))
    feed = partner.feeds.get()
    polling.fetch_feed(feed.pk)
    feed.refresh_from_db()
    assert feed.etag
    assert feed.last_modified == "Sun, 29 Nov 2026 16:00:00 GMT"
    second = polling.fetch_feed(feed.pk)
    assert second.not_modified
    assert feeds.requests[-1]["if-none-match"] == feed.etag
    assert feeds.requests[-1]["if-modified-since"] == feed.last_modified
    assert "Movement News" in feeds.requests[-1]["user-agent"]
    feed.refresh_from_db()
    assert feed.status == Feed.Status.NOT_MODIFIED
    assert feed.items_seen == 2
    assert timedelta(minutes=29) < feed.next_fetch_at - timezone.now() <= timedelta(minutes=30)


def test_duplicates_merge_by_guid_by_link_without_tracking_and_by_near_identical_title(feeds):
    nacla = add("NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml"))
    polling.fetch_feed(nacla.feeds.get().pk)
    # The same piece again with a fresh GUID and other tracking parameters: known by its link.
    feeds.serve(
        "/again.xml",
        b"""<rss version="2.0"><channel><title>NACLA</title><item><title>A new headline</title>
        <link>https://www.nacla.example/news/peru-miners-march/?utm_campaign=x&amp;fbclid=1#top</link>
        <guid>fresh-guid-1</guid></item></channel></rss>""",
    )
    again = services.add_partner("NACLA mirror", [feeds.url + "/again.xml"])
    assert polling.fetch_feed(again.feeds.get().pk).known == 1
    # Another partner's take on the same march: its title is the same once folded.
    upside = add("Upside", feeds.serve_file("/atom", "upside-atom.xml", "application/atom+xml"))
    result = polling.fetch_feed(upside.feeds.get().pk)
    assert (result.new, result.known) == (1, 1)
    # A near-identical title (a word added) from yet another partner.
    feeds.serve(
        "/near.xml",
        b"""<rss version="2.0"><channel><title>Other</title><item>
        <title>Water defenders win again in Cajamarca</title>
        <link>https://other.example/cajamarca</link><guid>o-1</guid></item></channel></rss>""",
    )
    near = add("Other", feeds.url + "/near.xml")
    assert polling.fetch_feed(near.feeds.get().pk).known == 1
    assert Item.objects.count() == 3


def test_recurring_short_titles_are_pieces_of_their_own(feeds):
    # "Editorial" every week, or items without a title: their GUIDs and links tell them apart.
    items = "".join(
        f"<item><title>{title}</title><link>https://weekly.example/{number}</link>"
        f"<guid>weekly-{number}</guid></item>"
        for number, title in enumerate(["Editorial", "Editorial", "", ""])
    )
    feeds.serve(
        "/weekly.xml",
        f'<rss version="2.0"><channel><title>Weekly</title>{items}</channel></rss>'.encode(),
    )
    weekly = add("Weekly", feeds.url + "/weekly.xml")
    result = polling.fetch_feed(weekly.feeds.get().pk)
    assert (result.new, result.known) == (4, 0)
    assert Item.objects.count() == 4


def test_an_author_allow_list_keeps_other_authors_out_of_the_queue(feeds):
    partner = add(
        "NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml"), allowed_authors="rosa huamán\n"
    )
    result = polling.fetch_feed(partner.feeds.get().pk)
    assert (result.new, result.skipped) == (1, 1)
    assert partner.items.get().authors == ["Rosa Huamán"]


def test_a_failing_feed_backs_off_shows_its_error_and_never_stops_the_others(feeds):
    broken = add("Gone", feeds.url + "/missing.xml", interval_minutes=30)
    good = add("NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml"))
    results = polling.fetch_partner()
    assert [bool(r.error) for r in results] == [True, False]
    feed = broken.feeds.get()
    assert feed.status == Feed.Status.FAILED
    assert feed.last_error == "the server answered HTTP 404"
    assert feed.failures == 1
    first_wait = feed.next_fetch_at - feed.last_fetched_at
    polling.fetch_feed(feed.pk)
    feed.refresh_from_db()
    assert feed.failures == 2
    assert feed.next_fetch_at - feed.last_fetched_at == 2 * first_wait == timedelta(hours=2)
    assert good.items.count() == 2
    # Fixed: the next success clears the error and the back-off.
    feeds.serve_file("/missing.xml", "nacla-rss2.xml")
    polling.fetch_feed(feed.pk)
    feed.refresh_from_db()
    assert (feed.status, feed.last_error, feed.failures) == (Feed.Status.OK, "", 0)


def test_the_poll_claims_only_due_feeds_each_once(feeds):
    due = add("NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml")).feeds.get()
    later = add("Later", feeds.url + "/later.xml").feeds.get()
    Feed.objects.filter(pk=later.pk).update(next_fetch_at=timezone.now() + timedelta(minutes=5))
    assert polling.claim_due_feeds() == [due.pk]
    assert polling.claim_due_feeds() == []  # held back while its fetch waits for a worker


def test_a_fetch_queued_for_a_feed_removed_since_does_nothing(feeds):
    from pressroom.partners.tasks import fetch_partner_feed

    feed = add("Gone soon", feeds.url + "/x.xml").feeds.get()
    feed.delete()
    assert fetch_partner_feed.call(feed.pk)["error"] == "the feed was removed"
    assert feeds.hits == {}


def test_a_partners_daily_column_under_one_title_is_a_new_piece_each_day(feeds):
    """A long title recurs from the same partner ("Latin America Daily Briefing"): only the
    same title from another partner is the same piece."""

    def day(number: int) -> bytes:
        return (
            '<rss version="2.0"><channel><title>Briefs</title><item>'
            "<title>This week in Latin American social movements</title>"
            f"<link>https://briefs.example/{number}</link><guid>briefs-{number}</guid>"
            "</item></channel></rss>"
        ).encode()

    briefs = add("Briefs", feeds.serve("/briefs.xml", day(1)))
    assert polling.fetch_feed(briefs.feeds.get().pk).new == 1
    feeds.serve("/briefs.xml", day(2))
    assert polling.fetch_feed(briefs.feeds.get().pk).new == 1
    assert briefs.items.count() == 2
    # The same title from another partner within the fortnight is the same piece.
    other = add("Other", feeds.serve("/other.xml", day(3).replace(b"briefs-3", b"o-3")))
    assert polling.fetch_feed(other.feeds.get().pk).known == 1


def test_links_keep_their_parameters_as_written_and_bad_links_cost_one_entry_not_the_feed(feeds):
    long_path = "/" + "a" * 900
    items = [
        # A query that re-encoding would grow past the column's 1,000 characters.
        ("long", "https://links.example" + long_path + "?p=/x/é/" + "&utm_source=rss"),
        ("index", "https://links.example/index.php?/news/x"),
        ("three", "https://links.example/article.php?source=3"),
        ("four", "https://links.example/article.php?source=4"),
        ("joined", "/" + "b" * 990),  # made absolute, longer than a link is kept
    ]
    body = "".join(
        f"<item><title>Piece {guid}</title><link>{link}</link><guid>{guid}</guid></item>"
        for guid, link in items
    )
    partner = add(
        "Links",
        feeds.serve(
            "/links.xml",
            f'<rss version="2.0"><channel><title>L</title>{body}</channel></rss>'.encode(),
        ),
    )
    result = polling.fetch_feed(partner.feeds.get().pk)
    assert (result.new, result.failed) == (5, 0)
    links = {
        title.removeprefix("Piece "): link
        for title, link in partner.items.values_list("title", "link")
    }
    assert links["long"] == "https://links.example" + long_path + "?p=/x/é/"
    assert links["index"] == "https://links.example/index.php?/news/x"
    assert links["three"] != links["four"]
    assert links["joined"] == ""  # known by its GUID


def test_a_malformed_address_in_a_json_feed_skips_that_address_only(feeds):
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": "bad", "url": "http://[oops/x", "title": "Broken address"},
            {"id": "good", "url": "https://json.example/good", "title": "A good piece"},
        ],
    }
    partner = add(
        "Json",
        feeds.serve("/feed.json", json.dumps(document).encode(), "application/feed+json"),
    )
    result = polling.fetch_feed(partner.feeds.get().pk)
    assert result.new == 2
    assert Feed.objects.get().status != Feed.Status.FAILED
    assert partner.items.get(guid="good").link == "https://json.example/good"
    assert partner.items.get(guid="bad").link == ""
