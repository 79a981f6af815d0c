"""Republish with attribution in one click: the partner's piece becomes our article (title,
cleaned body, images in the library credited to the partner, bylines, original outlet and
address, canonical link, licence line, default topics); summary-only feeds open a draft; the
queue's other actions; and "Republish us" for our own pieces."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.media.models import MediaItem
from pressroom.newsletter.digests import create_digest
from pressroom.partners import images, polling, services
from pressroom.partners.models import Item, PartnerStateError
from pressroom.publishing import services as publishing_services
from pressroom.publishing.models import Article, Topic

pytestmark = pytest.mark.django_db
TASK_PATH = "pressroom.partners.tasks.bring_partner_images_in"


@pytest.fixture
def peru(db):
    return publishing_services.save_topic(Topic(name="Peru"))


@pytest.fixture
def nacla(feeds, peru, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    partner = services.add_partner(
        "NACLA",
        [feeds.serve_file("/nacla.xml", "nacla-rss2.xml")],
        licence="CC BY-NC-ND 4.0",
        topics=[peru],
        full_text=True,
    )
    polling.fetch_feed(partner.feeds.get().pk)
    return partner


def march(partner) -> Item:
    return partner.items.get(guid="nacla-1001")


def test_republish_now_keeps_title_clean_body_bylines_origin_canonical_licence_and_topics(
    nacla, peru, editor, feeds, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        done = services.republish_item(march(nacla), by=editor)
    # Saved first, images not fetched in the request: the worker brings them in.
    assert feeds.hits.get("/photo.png") is None
    assert MediaItem.objects.count() == 0
    queued = DBTaskResult.objects.get(task_path=TASK_PATH)
    assert queued.args_kwargs["args"] == [done.article.pk, nacla.pk]
    assert images.bring_images_in(*queued.args_kwargs["args"]) == 1
    article = Article.objects.get(pk=done.article.pk)
    assert done.notice == ""
    assert article.title == "Peru’s Miners March on Lima"
    assert article.is_public
    assert "<script" not in article.body
    assert "evil.example" not in article.body  # an iframe from an unknown host is dropped
    assert "formalisation law" in article.body
    assert [author.name for author in article.bylines] == ["Rosa Huamán"]
    assert article.original_outlet == "NACLA"
    assert article.original_url.startswith("https://nacla.example/news/peru-miners-march")
    assert article.canonical_url == article.original_url
    assert article.licence == "CC BY-NC-ND 4.0"
    assert list(article.topics.all()) == [peru]
    photo = MediaItem.objects.get()
    assert photo.credit == "NACLA"
    assert photo.alt_text == "Miners on the Panamericana"
    assert photo.file.url in article.body
    item = march(nacla)
    assert (item.state, item.article_id, item.state_changed_by) == (
        "republished",
        article.pk,
        editor,
    )


def test_the_republished_article_shows_its_licence_line_canonical_link_and_is_in_feed_and_digest(
    nacla, reader_client
):
    article = services.republish_item(march(nacla)).article
    page = reader_client.get(article.get_absolute_url()).content.decode()
    # Once, at the foot, with the licence.
    assert page.count("Originally published by") == 1
    assert (
        f'<p class="republished licence-line">Originally published by <a href="{article.original_url.replace("&", "&amp;")}">NACLA</a>'
        " under CC BY-NC-ND 4.0</p>"
    ) in page
    assert page.index("Originally published by") > page.index('<div class="article-body">')
    assert f'<link rel="canonical" href="{article.original_url.replace("&", "&amp;")}">' in page
    assert "Republish this article" not in page  # not ours to license
    feed = feedparser.parse(reader_client.get("/feed/").content)
    assert feed.entries[0].title == article.title
    digest, created = create_digest()
    assert created
    assert list(digest.articles.values_list("title", flat=True)) == [article.title]


def test_a_summary_only_feed_opens_a_draft_with_the_summary_a_link_and_a_notice(nacla):
    nacla.full_text = False
    nacla.save()
    done = services.republish_item(march(nacla), mode=services.Mode.NOW)
    article = done.article
    assert article.status == Article.Status.DRAFT
    assert "Paste the full text" in done.notice
    assert "Thousands of informal miners reached the capital." in article.body
    assert 'href="https://nacla.example/news/peru-miners-march' in article.body
    assert "formalisation law" not in article.body
    assert article.original_outlet == "NACLA"


def test_schedule_and_open_as_draft(nacla):
    at = timezone.now() + timedelta(days=1)
    scheduled = services.republish_item(march(nacla), mode=services.Mode.SCHEDULE, at=at).article
    assert (scheduled.status, scheduled.published_at) == (Article.Status.SCHEDULED, at)
    assert not scheduled.is_public
    other = nacla.items.get(guid="nacla-1000")
    draft = services.republish_item(other, mode=services.Mode.DRAFT).article
    assert draft.status == Article.Status.DRAFT
    with pytest.raises(services.PartnerError, match="future"):
        services.republish_item(other, mode=services.Mode.SCHEDULE, at=timezone.now())


def test_an_item_is_republished_once_and_a_dismissed_one_is_not_republished(nacla):
    item = march(nacla)
    services.republish_item(item)
    with pytest.raises(PartnerStateError, match="republished already"):
        services.republish_item(item)
    other = nacla.items.get(guid="nacla-1000")
    services.dismiss_item(other)
    with pytest.raises(PartnerStateError, match="dismissed"):
        services.republish_item(other)
    assert Article.objects.count() == 1


def test_dismiss_can_be_undone_and_dismissed_or_republished_items_never_come_back(nacla, feeds):
    item = march(nacla)
    services.dismiss_item(item)
    assert not Item.objects.in_queue().filter(pk=item.pk).exists()
    services.undo_dismiss_item(item)
    assert Item.objects.in_queue().filter(pk=item.pk).exists()
    services.dismiss_item(item)
    services.republish_item(nacla.items.get(guid="nacla-1000"))
    # The feed changes (a new ETag): everything is fetched again, nothing comes back.
    body = feeds.routes.pop("/nacla.xml")
    feeds.serve("/nacla.xml", body(type("R", (), {"headers": {}})())[2] + b"\n")
    result = polling.fetch_feed(nacla.feeds.get().pk)
    assert (result.new, result.known) == (0, 2)
    assert Item.objects.in_queue().count() == 0
    assert sorted(nacla.items.values_list("state", flat=True)) == ["dismissed", "republished"]


def test_the_queue_says_when_we_already_have_a_piece(nacla, make_article):
    make_article(title="Our copy", original_outlet="NACLA", original_url=march(nacla).link)
    have = dict(Item.objects.with_already_have().values_list("guid", "already_have"))
    assert have == {"nacla-1001": True, "nacla-1000": False}


def test_our_own_articles_offer_ready_to_paste_html_under_our_licence(
    make_article, reader_client, settings
):
    settings.REPUBLISH_LICENCE = "CC BY-ND 4.0"
    settings.REPUBLISH_LICENCE_URL = "https://creativecommons.org/licenses/by-nd/4.0/"
    settings.SITE_NAME = "Movement News"
    article = make_article(body='<p>Thousands marched.</p><p><a href="/topics/peru/">More</a></p>')
    page = reader_client.get(article.get_absolute_url()).content.decode()
    assert "Republish this article" in page
    assert "CC BY-ND 4.0" in page
    pasted = page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert "&lt;h1&gt;Miners march on Lima&lt;/h1&gt;" in pasted
    assert "&lt;p&gt;By Ana Quispe&lt;/p&gt;" in pasted
    assert "Thousands marched." in pasted
    assert f"{settings.SITE_URL}/topics/peru/" in pasted  # our addresses made absolute
    assert (
        f"&lt;link rel=&quot;canonical&quot; href=&quot;{settings.SITE_URL}{article.get_absolute_url()}&quot;&gt;"
        in pasted
    )
    assert "originally published by &lt;a href=" in pasted
    policy = reader_client.get("/republish/")
    assert policy.status_code == 200
    assert "CC BY-ND 4.0" in policy.content.decode()
    assert "not ours to license" in policy.content.decode()


def test_without_a_licence_there_is_no_panel_and_the_policy_page_says_so(
    make_article, reader_client, settings
):
    settings.REPUBLISH_LICENCE = ""
    article = make_article()
    assert (
        "Republish this article"
        not in reader_client.get(article.get_absolute_url()).content.decode()
    )
    policy = reader_client.get("/republish/").content.decode()
    assert "does not offer its articles for republication" in policy
