""" "Published" has one definition (ArticleQuerySet.published()); the archive reads written as
SQL for speed (listings.py) must show exactly the articles it holds, whatever path wrote them
(the admin's save, the bulk service of imports) and whatever state they went through. Runs on
SQLite and on PostgreSQL (DATABASE_URL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.publishing import listings, services
from pressroom.publishing.models import Article, ArticleAuthor, ArticleTopic, Author, Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_state(make_article, topic, author) -> dict[str, Article]:
    now = timezone.now()
    past, future = now - timedelta(hours=2), now + timedelta(days=2)
    articles = {
        "published": make_article("Published", published_at=past),
        "published, future date": make_article("Published ahead", published_at=future),
        "scheduled, time come": make_article(
            "Scheduled come", status="scheduled", published_at=past - timedelta(1)
        ),
        "scheduled, to come": make_article(
            "Scheduled ahead", status="scheduled", published_at=future
        ),
        "draft": make_article("Draft", status="draft"),
        "draft with a date": make_article("Draft dated", status="draft", published_at=past),
        "unpublished": services.unpublish_article(make_article("Unpublished", published_at=past)),
    }
    # Review (issue 13): in review, sent back, and in review after being dated by an editor.
    in_review = make_article("In review", status="draft")
    services.submit_article_for_review(in_review, by=None)
    articles["in review"] = in_review
    sent_back = make_article("Sent back", status="draft")
    services.submit_article_for_review(sent_back, by=None)
    articles["sent back"] = sent_back
    services.send_back_article(sent_back, by=None, comment="Shorter, please.")
    dated = make_article("In review dated", status="draft")
    services.submit_article_for_review(dated, by=None)
    dated.published_at = past
    articles["in review with a date"] = services.save_article(dated)
    back = services.unpublish_article(make_article("Back again", published_at=past))
    articles["republished"] = services.publish_article(back)
    articles["published now"] = services.publish_article(make_article("Now", status="draft"))
    services.delete_article(make_article("Deleted", published_at=past))
    # Written the way imports and the demo write, through the bulk service.
    bulk = [
        ("bulk published", Article.Status.PUBLISHED, past - timedelta(minutes=5)),
        ("bulk published ahead", Article.Status.PUBLISHED, future),
        ("bulk scheduled, time come", Article.Status.SCHEDULED, past - timedelta(minutes=7)),
        ("bulk scheduled, to come", Article.Status.SCHEDULED, future),
        ("bulk draft", Article.Status.DRAFT, None),
    ]
    written = services.save_articles(
        [
            services.ArticleWrite(
                Article(
                    title=title.capitalize(), body="<p>Body.</p>", status=status, published_at=at
                ),
                author_ids=[author.pk],
                topic_ids=[topic.pk],
            )
            for title, status, at in bulk
        ]
    )
    articles.update(zip([title for title, _, _ in bulk], written, strict=True))
    # A bulk update that takes one back to draft, and one that publishes a draft.
    to_draft = Article.objects.get(pk=articles["bulk published"].pk)
    to_draft.status = Article.Status.DRAFT
    to_publish = Article.objects.get(pk=articles["bulk draft"].pk)
    to_publish.publish(at=past - timedelta(minutes=9))
    services.save_articles([services.ArticleWrite(to_draft), services.ArticleWrite(to_publish)])
    other_topic = services.save_topic(Topic(name="Chile"))
    other_author = services.save_author(Author(name="Rosa Mamani"))
    articles["elsewhere"] = make_article("Elsewhere", topics=[other_topic], authors=[other_author])
    return articles


def titles(page) -> list[str]:
    return [teaser.title for teaser in page.items]


def test_every_archive_read_shows_exactly_the_published_queryset(every_state, topic, author):
    published = Article.objects.published().newest_first()
    expected = [article.title for article in published]
    assert sorted(expected) == sorted(
        [
            "Published",
            "Scheduled come",
            "Back again",
            "Now",
            "Bulk scheduled, time come",
            "Bulk draft",
            "Elsewhere",
        ]
    )
    assert titles(listings.latest_page({}, per_page=50)) == expected
    assert titles(listings.topic_page(topic, {}, per_page=50)) == [
        article.title for article in published.for_topic(topic)
    ]
    assert titles(listings.author_page(author, {}, per_page=50)) == [
        article.title for article in published.by_author(author)
    ]


def test_the_links_copy_of_published_agrees_with_each_article(every_state):
    public_ids = set(Article.objects.published().values_list("pk", flat=True))
    for article in Article.objects.all():
        assert article.is_public == (article.pk in public_ids), article.title
        is_public, published_at = article.listing_state()
        for model in (ArticleTopic, ArticleAuthor):
            links = model.objects.filter(article=article)
            assert links.exists(), article.title
            assert set(links.values_list("is_public", "published_at")) == {
                (is_public, published_at)
            }, article.title
    assert Article.objects.get(title="Published ahead").status == Article.Status.SCHEDULED
    assert Article.objects.get(title="Bulk published ahead").status == Article.Status.SCHEDULED


def test_is_public_agrees_with_published_for_every_state_as_written(every_state):
    """Article.is_public restates "published" in Python: named state by named state, it must
    agree with the queryset (both answers occur)."""
    public_ids = set(Article.objects.published().values_list("pk", flat=True))
    answers = set()
    for state, written in every_state.items():
        article = Article.objects.get(pk=written.pk)
        assert article.is_public == (article.pk in public_ids), state
        answers.add(article.is_public)
    assert answers == {True, False}
