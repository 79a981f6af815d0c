"""An article's life: draft, scheduled, published, unpublished; slugs and old addresses."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Article, ArticleStateError, Topic

pytestmark = pytest.mark.django_db


def _move_time(monkeypatch, by: timedelta) -> None:
    moved = timezone.now() + by
    monkeypatch.setattr(timezone, "now", lambda: moved)


def test_scheduled_article_appears_on_its_own_when_its_time_comes(
    client, make_article, monkeypatch
):
    article = make_article(status="draft")
    services.publish_article(article, at=timezone.now() + timedelta(hours=1))
    assert article.status == Article.Status.SCHEDULED

    assert client.get(article.get_absolute_url()).status_code == 404
    assert article.title not in client.get("/topics/peru/").content.decode()
    assert article.title not in client.get("/").content.decode()
    assert article.title not in client.get("/feed/").content.decode()

    # No job runs in between: only the clock moves.
    _move_time(monkeypatch, timedelta(hours=1, seconds=1))
    assert client.get(article.get_absolute_url()).status_code == 200
    assert article.title in client.get("/topics/peru/").content.decode()
    assert article.title in client.get("/authors/ana-quispe/").content.decode()
    assert article.title in client.get("/").content.decode()
    assert article.title in client.get("/feed/").content.decode()


def test_article_published_a_moment_ahead_is_public_a_moment_later(client, make_article, settings):
    settings.PAGE_CACHE_SECONDS = 0
    article = make_article(status="draft")
    at = timezone.now() + timedelta(seconds=1)
    services.publish_article(article, at=at)
    early = client.get(article.get_absolute_url())
    if timezone.now() < at:  # a slow machine may already be past it
        assert early.status_code == 404
    time.sleep(max(0.0, (at - timezone.now()).total_seconds()) + 0.05)
    assert client.get(article.get_absolute_url()).status_code == 200
    assert article.title in client.get("/topics/peru/").content.decode()


def test_scheduling_needs_a_future_time(make_article):
    article = make_article(status="draft")
    with pytest.raises(ArticleStateError):
        article.schedule(timezone.now() - timedelta(minutes=1))


def test_unpublished_article_disappears_for_readers(client, make_article):
    article = make_article()
    services.unpublish_article(article)
    assert client.get(article.get_absolute_url()).status_code == 404
    assert article.title not in client.get("/topics/peru/").content.decode()
    with pytest.raises(ArticleStateError):
        services.unpublish_article(article)


def test_publishing_now_keeps_an_earlier_publication_date(make_article):
    article = make_article()
    first_published = article.published_at
    services.unpublish_article(article)
    services.publish_article(article)
    assert article.published_at == first_published


def test_two_articles_with_the_same_title_get_different_slugs(client, make_article):
    first = make_article(title="Strike in Puno")
    second = make_article(title="Strike in Puno")
    third = make_article(title="Strike in Puno")
    assert first.slug == "strike-in-puno"
    assert second.slug == "strike-in-puno-2"
    assert third.slug == "strike-in-puno-3"
    for article in (first, second, third):
        assert client.get(article.get_absolute_url()).status_code == 200


def test_a_slug_typed_twice_is_made_unique(make_article):
    first = make_article(title="One", slug="same-slug")
    second = make_article(title="Two", slug="same-slug")
    assert first.slug == "same-slug"
    assert second.slug == "same-slug-2"


def test_old_addresses_answer_301_to_the_article(client, make_article):
    article = make_article()
    services.save_article(
        article,
        legacy_paths=["/2019/05/miners-march", "https://old.example/?p=42", "/old/story.html"],
    )
    for old in ["/2019/05/miners-march/", "/2019/05/miners-march", "/?p=42", "/old/story.html"]:
        response = client.get(old)
        assert response.status_code == 301, old
        assert response["Location"] == article.get_absolute_url()


def test_old_topic_address_answers_301_to_the_topic(client, topic):
    services.write_legacy_paths({"/category/peru/": topic})
    response = client.get("/category/peru/")
    assert response.status_code == 301
    assert response["Location"] == "/topics/peru/"


def test_front_page_queries_naming_nothing_the_site_has_are_404_as_on_wordpress(
    client, make_article
):
    make_article()
    assert client.get("/?p=999").status_code == 404
    assert client.get("/?utm_source=newsletter").status_code == 200  # names nothing: the home


def test_changing_a_slug_keeps_the_old_address_working(client, make_article):
    article = make_article()
    old_url = article.get_absolute_url()
    article.slug = "miners-reach-lima"
    services.save_article(article)
    assert client.get("/articles/miners-reach-lima/").status_code == 200
    response = client.get(old_url)
    assert response.status_code == 301
    assert response["Location"] == "/articles/miners-reach-lima/"


def test_changing_a_slug_in_another_script_keeps_the_old_address_working(client, make_article):
    article = make_article(title="Perú: huelga en Puno")
    old_url = article.get_absolute_url()
    article.slug = "huelga-puno"
    services.save_article(article)
    response = client.get(old_url)
    assert response.status_code == 301
    assert response["Location"] == "/articles/huelga-puno/"


def test_every_writer_gets_an_overlong_title_cut_to_fit(make_article, topic, author):
    """The cut lives in prepare_article, so the admin's save, the bulk service of imports and
    the demo all store a title that fits the column, on both databases."""
    words = " ".join(["Miners march on Lima"] * 40)  # 839 characters
    one = make_article(title=words)
    [bulk] = services.save_articles(
        [
            services.ArticleWrite(
                Article(title=words, body="<p>Body.</p>", status="draft"),
                author_ids=[author.pk],
                topic_ids=[topic.pk],
            )
        ]
    )
    for article in (one, bulk):
        stored = Article.objects.get(pk=article.pk).title
        assert stored == words[:300]


def test_save_topics_settles_unique_slugs_and_writes_changes_in_bulk(
    topic, django_capture_on_commit_callbacks
):
    """The bulk topic service imports use: slugs as asked for, made unique across the batch
    and the table, changed topics written, and the change announced after commit."""
    from pressroom.publishing.signals import content_changed

    announced = []

    def listen(**kwargs: object) -> None:
        announced.append(kwargs)

    content_changed.connect(listen)
    try:
        topic.name, topic.description = "Perú", "Everything from Peru."
        new = [Topic(name="Peru"), Topic(name="Peru"), Topic(name="Mining", slug="mines")]
        with django_capture_on_commit_callbacks(execute=True):
            services.save_topics(new, [topic])
    finally:
        content_changed.disconnect(listen)
    assert [t.slug for t in new] == ["peru-2", "peru-3", "mines"]
    assert all(t.pk for t in new)
    assert Topic.objects.get(pk=topic.pk).description == "Everything from Peru."
    assert announced
