"""What a hostile review of partners found, each fixed and shown here: "we have it" by link key,
accented categories in the topic filter, images fetched by the worker and a double submit
republishing once, any error in a poll recorded, "Republish us" without others' photos,
partner bylines apart from ours, the review page showing exactly what is republished, bounded
intervals, case-insensitive partner names, partners with items protected, and the
"Originally published by" line once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.media import services as media_services
from pressroom.media.models import MediaItem
from pressroom.partners import images, polling, services
from pressroom.partners.models import MAX_BACKOFF, Feed, Item, Partner
from pressroom.partners.tasks import fetch_partner_feeds
from pressroom.partners.tests.feedserver import PNG
from pressroom.publishing import services as publishing_services
from pressroom.publishing.models import Article, Author, Topic

pytestmark = pytest.mark.django_db
QUEUE = "/admin/partners/item/"
IMAGE_TASK = "pressroom.partners.tasks.bring_partner_images_in"


@pytest.fixture
def nacla(feeds, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    partner = services.add_partner(
        "NACLA",
        [feeds.serve_file("/nacla.xml", "nacla-rss2.xml")],
        licence="CC BY-NC-ND 4.0",
        full_text=True,
    )
    polling.fetch_feed(partner.feeds.get().pk)
    return partner


def march(partner: Partner) -> Item:
    return partner.items.get(guid="nacla-1001")


def json_feed(*items: dict[str, object]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()


def test_we_have_it_compares_the_normalised_link_keys_the_dedup_uses(nacla, make_article):
    item = march(nacla)
    assert item.link == "https://nacla.example/news/peru-miners-march"
    # Our copy points at the same piece written otherwise: http, "www.", a trailing slash,
    # tracking parameters and a fragment.
    make_article(
        title="Our copy",
        original_outlet="NACLA",
        original_url="http://www.nacla.example/news/peru-miners-march/?utm_source=x&fbclid=1#top",
    )
    have = dict(Item.objects.with_already_have().values_list("guid", "already_have"))
    assert have == {"nacla-1001": True, "nacla-1000": False}
    # An article whose address changes no longer counts for the old one.
    article = Article.objects.get(title="Our copy")
    article.original_url = article.canonical_url = "https://elsewhere.example/other"
    publishing_services.save_article(article)
    assert not Item.objects.with_already_have().get(guid="nacla-1001").already_have


def test_the_topic_filter_matches_accented_categories(feeds, editor_client):
    peru = publishing_services.save_topic(Topic(name="Perú"))
    plain = publishing_services.save_topic(Topic(name="Peru"))
    mining = publishing_services.save_topic(Topic(name="Minería"))
    url = feeds.serve(
        "/ojo.json",
        json_feed(
            {"id": "1", "url": "https://ojo.example/1", "title": "Lima", "tags": ["Perú"]},
            {"id": "2", "url": "https://ojo.example/2", "title": "Oruro", "tags": ["MINERÍA"]},
            {"id": "3", "url": "https://ojo.example/3", "title": "Quito", "tags": ["Ecuador"]},
        ),
        "application/feed+json",
    )
    partner = services.add_partner("Ojo Público", [url])
    assert polling.fetch_feed(partner.feeds.get().pk).new == 3

    def listed(topic: Topic) -> list[str]:
        response = editor_client.get(QUEUE, {"topic": topic.pk})
        return [item.title for item in response.context["cl"].result_list]

    assert listed(peru) == ["Lima"]
    assert listed(plain) == ["Lima"]  # accents and case folded on both sides
    assert listed(mining) == ["Oruro"]


def test_images_are_fetched_by_the_worker_and_a_double_submit_republishes_once(
    nacla, feeds, editor_client, django_capture_on_commit_callbacks
):
    item = march(nacla)
    url = f"{QUEUE}{item.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        first = editor_client.post(url, {"action": "now"})
        second = editor_client.post(url, {"action": "now"}, follow=True)
    assert first.status_code == 302
    assert second.status_code == 200
    assert "is republished already" in second.content.decode()
    article = Article.objects.get()
    assert article.is_public
    # Nothing was downloaded inside the requests; one task is queued for the images.
    assert "/photo.png" not in feeds.hits
    queued = DBTaskResult.objects.filter(task_path=IMAGE_TASK)
    assert [task.args_kwargs["args"] for task in queued] == [[article.pk, nacla.pk]]
    assert f"{feeds.url}/photo.png" in article.body
    # The worker's run, twice (a retry): one library image, the body points at it.
    assert images.bring_images_in(article.pk, nacla.pk) == 1
    assert images.bring_images_in(article.pk, nacla.pk) == 0
    photo = MediaItem.objects.get()
    article.refresh_from_db()
    assert photo.file.url in article.body
    assert f"{feeds.url}/photo.png" not in article.body
    assert feeds.hits["/photo.png"] == 1


def test_an_article_edited_before_the_worker_keeps_the_edit(nacla, feeds):
    article = services.republish_item(march(nacla)).article
    article.title = "Edited by us"
    publishing_services.save_article(article)
    assert images.bring_images_in(article.pk, nacla.pk) == 1
    article.refresh_from_db()
    assert article.title == "Edited by us"
    assert MediaItem.objects.get().file.url in article.body


def test_any_error_in_a_feeds_poll_records_the_failure_and_the_others_go_on(
    nacla, feeds, monkeypatch
):
    broken_url = feeds.serve("/broken.json", json_feed({"id": "1", "url": "https://b.example/1"}))
    broken = services.add_partner("Broken", [broken_url])
    nacla_feed = nacla.feeds.get()
    real_store = polling.store_entries

    def store(feed, *args):
        if feed.partner_id == broken.pk:
            raise KeyError("a bug met on this feed's entries")
        return real_store(feed, *args)

    monkeypatch.setattr(polling, "store_entries", store)
    feeds.routes.pop("/nacla.xml")
    feeds.serve_file("/nacla.xml", "nacla-rss2.xml")  # re-served: fetched again, not a 304
    Feed.objects.update(etag="")
    results = {result.url: result for result in polling.fetch_partner()}
    assert results[nacla_feed.url].error == ""
    assert "unexpected error (KeyError)" in results[broken_url].error
    feed = broken.feeds.get()
    assert (feed.status, feed.failures) == (Feed.Status.FAILED, 1)
    assert "a bug met on this feed's entries" in feed.last_error
    assert feed.next_fetch_at > timezone.now() + timedelta(minutes=30)
    assert not broken.items.exists()  # nothing half-written
    # Through the worker's task too: recorded, not raised, and the next feed of the task is
    # fetched (a feed removed since it was queued is skipped).
    Feed.objects.filter(pk=nacla_feed.pk).update(next_fetch_at=timezone.now())
    done = fetch_partner_feeds.call([feed.pk, 10**9, nacla_feed.pk])
    assert done == {"new": 0, "known": 0, "failed": [broken_url]}  # NACLA: 304
    assert Feed.objects.get(pk=feed.pk).failures == 2
    assert Feed.objects.get(pk=nacla_feed.pk).last_fetched_at > feed.last_fetched_at


def test_republish_us_html_leaves_out_images_credited_to_others(
    make_article, reader_client, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.REPUBLISH_LICENCE = "CC BY-ND 4.0"
    settings.SITE_NAME = "Movement News"
    ours, _ = media_services.add_item_from_bytes(PNG, "ours.png", alt_text="Our photo")
    theirs, _ = media_services.add_item_from_bytes(
        PNG + b"\0", "theirs.png", alt_text="Their photo", credit="NACLA"
    )
    article = make_article(
        body=(
            f'<p>Text.</p><figure><img src="{theirs.file.url}" alt="Their photo">'
            "<figcaption>Marchers <span>NACLA</span></figcaption></figure>"
            f'<p><img src="{ours.file.url}" alt="Our photo"></p>'
            '<p><img src="https://elsewhere.example/x.jpg" alt="Hotlinked"></p><p>End.</p>'
        )
    )
    page = reader_client.get(article.get_absolute_url()).content.decode()
    pasted = page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert ours.file.url in pasted
    assert theirs.file.url not in pasted
    assert "Marchers" not in pasted  # the figure goes whole, with its caption
    assert "elsewhere.example" not in pasted
    assert "Text." in pasted
    assert "End." in pasted


def test_partner_bylines_are_kept_apart_from_our_authors_of_the_same_name(nacla, feeds):
    ours = publishing_services.save_author(Author(name="Rosa Huamán", bio="Our reporter."))
    article = services.republish_item(march(nacla)).article
    (byline,) = article.bylines
    assert byline.name == "Rosa Huamán"
    assert byline.pk != ours.pk
    assert byline.website == nacla.site_url
    # Her next piece from the same partner has the same byline; another partner's namesake
    # is someone else.
    again = services.bylines_for(nacla, ["rosa  huamán"])
    assert [author.pk for author in again] == [byline.pk]
    upside = services.add_partner("Upside", [feeds.serve("/u.xml", b"<rss/>")])
    assert services.bylines_for(upside, ["Rosa Huamán"])[0].pk not in {ours.pk, byline.pk}
    assert Author.objects.filter(name="Rosa Huamán").count() == 3


def test_the_review_page_shows_exactly_what_is_republished_without_loading_images(
    nacla, feeds, editor_client
):
    item = march(nacla)
    page = editor_client.get(f"{QUEUE}{item.pk}/change/").content.decode()
    preview = page.split('<div class="preview">', 1)[1].split("</div>", 1)[0]
    assert preview == services.preview_body(item)
    assert "formalisation law" in preview
    assert "<script" not in preview
    assert "evil.example" not in preview
    # The partner's photo is a link, not an image the editor's browser loads.
    assert "<img" not in page.split('<div class="preview">', 1)[1]
    assert f'href="{feeds.url}/photo.png"' in preview
    assert "[Image: Miners on the Panamericana]" in preview
    # Summary only: the preview is the draft's body (summary and link), not the content.
    nacla.full_text = False
    nacla.save()
    page = editor_client.get(f"{QUEUE}{item.pk}/change/").content.decode()
    preview = page.split('<div class="preview">', 1)[1].split("</div>", 1)[0]
    assert "Read it at NACLA" in preview
    assert "formalisation law" not in preview
    body = services.republish_item(item).article.body
    assert "Read it at NACLA" in body


@pytest.mark.parametrize("minutes", ["0", "4", "10081", "4294967296"])
def test_the_admin_refuses_an_interval_outside_5_minutes_to_a_week(editor_client, nacla, minutes):
    feed = nacla.feeds.get()
    response = editor_client.post(
        f"/admin/partners/partner/{nacla.pk}/change/",
        {
            "name": "NACLA",
            "site_url": nacla.site_url,
            "licence": nacla.licence,
            "full_text": "on",
            "allowed_authors": "",
            "feeds-TOTAL_FORMS": "1",
            "feeds-INITIAL_FORMS": "1",
            "feeds-0-id": str(feed.pk),
            "feeds-0-partner": str(nacla.pk),
            "feeds-0-url": feed.url,
            "feeds-0-interval_minutes": minutes,
            "feeds-0-is_active": "on",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ensure this value is" in page
    assert Feed.objects.get(pk=feed.pk).interval_minutes == 30


def test_the_back_off_is_bounded_whatever_the_row_holds(nacla):
    feed = nacla.feeds.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Feed.objects.filter(pk=feed.pk).update(interval_minutes=10**9)
    # A row from before the bound (in memory here): fifty failures overflow nothing.
    feed.interval_minutes, feed.failures = 10**9, 50
    feed.record_failure("down")
    assert feed.next_fetch_at - timezone.now() <= timedelta(days=7)
    # A weekly feed that fails waits a week, not the 12-hour cap; a 30-minute one doubles.
    feed.interval_minutes, feed.failures = 7 * 24 * 60, 0
    assert feed.backoff == timedelta(days=7)
    feed.interval_minutes, feed.failures = 30, 1
    assert feed.backoff == timedelta(hours=1)
    feed.failures = 40
    assert feed.backoff == MAX_BACKOFF


def test_partner_names_are_unique_whatever_the_case(nacla, editor_client, feeds):
    with pytest.raises(services.PartnerError, match="already a partner"):
        services.add_partner("nacla", [feeds.serve("/other.xml", b"<rss/>")])
    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(name="Nacla")
    response = editor_client.post(
        "/admin/partners/partner/add/",
        {
            "name": "NaCLA",
            "site_url": "",
            "licence": "",
            "allowed_authors": "",
            "feeds-TOTAL_FORMS": "0",
            "feeds-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "There is already a partner of that name." in response.content.decode()
    assert Partner.objects.count() == 1


def test_a_partner_with_items_is_protected_so_dismissed_pieces_never_come_back(
    nacla, editor_client
):
    services.dismiss_item(march(nacla))
    with pytest.raises(ProtectedError):
        nacla.delete()
    response = editor_client.post(
        f"/admin/partners/partner/{nacla.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Cannot delete partner" in page
    assert "queued item" in page  # its items are why: protected, and not deletable
    assert Item.objects.filter(state=Item.State.DISMISSED).count() == 1
    # A partner without items yet goes.
    fresh = services.add_partner("Fresh", ["https://fresh.example/feed"])
    assert editor_client.post(f"/admin/partners/partner/{fresh.pk}/delete/", {"post": "yes"})
    assert not Partner.objects.filter(pk=fresh.pk).exists()


# What cutting the poll's cost changed (bench partners measures it): relative addresses are
# resolved for the new items only, and a feed served again byte for byte is not parsed again.


def test_relative_addresses_in_new_items_are_made_absolute(feeds):
    rss = (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>R</title>'
        b"<item><title>A piece with relative links</title><link>https://rel.example/news/1</link>"
        b'<description>Short.</description><guid isPermaLink="false">r-1</guid><content:encoded><![CDATA[<p><img src="/img/a.png" alt="A"> '
        b'<a href="more.html">more</a> <a href="https://other.example/x">x</a></p>]]>'
        b"</content:encoded></item></channel></rss>"
    )
    url = feeds.serve("/rel/feed.xml", rss)
    json_url = feeds.serve(
        "/rel/feed.json",
        json_feed(
            {
                "id": "j-1",
                "url": "https://rel.example/news/2",
                "title": "Another piece with relative links",
                "content_html": '<p><img src="pics/b.png" alt="B"></p>',
            }
        ),
        "application/feed+json",
    )
    partner = services.add_partner("Relative", [url, json_url], full_text=True)
    assert [(r.new, r.error) for r in polling.fetch_partner(partner)] == [(1, ""), (1, "")]
    rss_item, json_item = partner.items.get(guid="r-1"), partner.items.get(guid="j-1")
    assert f'src="{feeds.url}/img/a.png"' in rss_item.content  # against the feed's address
    assert f'href="{feeds.url}/rel/more.html"' in rss_item.content
    assert 'href="https://other.example/x"' in rss_item.content
    assert 'src="https://rel.example/news/pics/b.png"' in json_item.content  # the item's


def test_a_feed_served_again_byte_for_byte_is_not_parsed_again(feeds, monkeypatch):
    body = json_feed({"id": "1", "url": "https://same.example/1", "title": "Same"})

    def without_validators(request):
        return 200, {"Content-Type": "application/feed+json"}, body  # no ETag, no date

    feeds.routes["/same.json"] = without_validators
    partner = services.add_partner("Same", [f"{feeds.url}/same.json"])
    feed = partner.feeds.get()
    assert polling.fetch_feed(feed.pk).new == 1
    parsed = []
    real_parse = polling.parse_feed
    monkeypatch.setattr(
        polling,
        "parse_feed",
        lambda *args, **kwargs: parsed.append(1) or real_parse(*args, **kwargs),
    )
    again = polling.fetch_feed(feed.pk)
    assert (again.not_modified, again.new, parsed) == (True, 0, [])
    assert Feed.objects.get(pk=feed.pk).status == Feed.Status.NOT_MODIFIED
    body = json_feed(
        {"id": "1", "url": "https://same.example/1", "title": "Same"},
        {"id": "2", "url": "https://same.example/2", "title": "New"},
    )
    assert polling.fetch_feed(feed.pk).new == 1
    assert parsed == [1]


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_case_twins_clamps_intervals_and_fills_the_keys():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("partners", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    nacla = old.get_model("partners", "Partner").objects.create(name="NACLA")
    twin = old.get_model("partners", "Partner").objects.create(name="nacla")
    feeds = old.get_model("partners", "Feed").objects
    feeds.create(partner=nacla, url="https://nacla.example/feed", interval_minutes=0)
    feeds.create(partner=twin, url="https://twin.example/feed", interval_minutes=10**6)
    old.get_model("partners", "Item").objects.create(
        partner=nacla, guid="1", title="Lima", title_key="lima", categories=["Perú", "Minería"]
    )
    article = old.get_model("publishing", "Article").objects.create(
        title="Ours", slug="ours", original_url="https://www.nacla.example/x/?utm_source=y"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert sorted(Partner.objects.values_list("name", flat=True)) == ["NACLA", "nacla (2)"]
    assert sorted(Feed.objects.values_list("interval_minutes", flat=True)) == [5, 10080]
    assert Item.objects.get().category_keys == "|peru|mineria|"
    from pressroom.partners.models import ArticleLink

    assert list(ArticleLink.objects.values_list("article_id", "link_key")) == [
        (article.pk, "nacla.example/x")
    ]


def test_the_review_preview_loads_no_picture_video_audio_or_player(nacla):
    item = march(nacla)
    item.content = (
        "<p>Text.</p><picture><source srcset='https://cdn.example/a.webp' type='image/webp'>"
        '<img src="https://cdn.example/a.jpg" alt="A march"></picture>'
        '<video src="https://cdn.example/v.mp4" poster="https://cdn.example/p.jpg" controls></video>'
        '<audio src="https://cdn.example/a.mp3" controls></audio>'
        '<iframe src="https://www.youtube.com/embed/abc123"></iframe><p>End.</p>'
    )
    preview = services.preview_body(item)
    for tag in ("<img", "<source", "<video", "<audio", "<iframe", "<picture", "srcset"):
        assert tag not in preview
    assert '<a class="image-placeholder" href="https://cdn.example/a.jpg"' in preview
    assert "[Image: A march]" in preview
    assert 'href="https://cdn.example/v.mp4"' in preview
    assert 'href="https://cdn.example/a.mp3"' in preview
    assert "[Embedded: https://www.youtube.com/embed/abc123]" in preview
    assert preview.startswith("<p>Text.</p>")
    assert preview.endswith("<p>End.</p>")
