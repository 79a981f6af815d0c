"""Imports and generated corpora write articles through publishing's bulk service: the same
rules as an editor's save, a few statements per batch however many articles it holds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Article, ArticleTopic, LegacyPath

pytestmark = pytest.mark.django_db

RAW_BODY = (
    '<p onclick="steal()">Miners <script>alert(1)</script>marched on   Lima on Monday, '
    'demanding <a href="javascript:x()">unpaid</a> wages.</p><p>More follows.</p>'
)


def write(count: int, topic, author, prefix: str = "Miners march") -> list[Article]:
    past = timezone.now() - timedelta(days=1)
    return services.save_articles(
        [
            services.ArticleWrite(
                Article(
                    title=f"{prefix}  on\nLima {number}",
                    body=RAW_BODY,
                    status=Article.Status.PUBLISHED,
                    published_at=past + timedelta(minutes=number),
                ),
                author_ids=[author.pk],
                topic_ids=[topic.pk],
                legacy_paths=[
                    f"/?p={prefix[0]}{number}",
                    f"https://old.example.org/{prefix[:5]}-{number}/",
                ],
            )
            for number in range(count)
        ]
    )


def test_bulk_and_single_writes_apply_the_same_rules(topic, author, make_article):
    single = make_article("Miners  march on\nLima 0", RAW_BODY)
    [bulk] = write(1, topic, author)
    assert bulk.title == single.title == "Miners march on Lima 0"
    assert bulk.body == single.body
    for unsafe in ("script", "onclick", "javascript"):
        assert unsafe not in bulk.body
    assert bulk.excerpt == single.excerpt
    assert bulk.excerpt.startswith("Miners marched on Lima on Monday")
    assert (single.slug, bulk.slug) == ("miners-march-on-lima-0", "miners-march-on-lima-0-2")
    assert ArticleTopic.objects.get(article=bulk).is_public is True


def test_slugs_stay_unique_within_a_batch_and_against_existing_articles(topic, author):
    services.save_article(Article(title="Strike", body="<p>x</p>"))
    articles = services.save_articles(
        [services.ArticleWrite(Article(title="Strike", body="<p>x</p>")) for _ in range(3)]
    )
    assert [article.slug for article in articles] == ["strike-2", "strike-3", "strike-4"]
    assert Article.objects.filter(slug__startswith="strike").count() == 4


def test_an_update_keeps_its_slug_and_a_changed_slug_leaves_a_redirect(client, topic, author):
    [article] = write(1, topic, author)
    old_url = article.get_absolute_url()
    article.title = "Miners march on Lima, day two"
    services.save_articles([services.ArticleWrite(article)])
    assert article.get_absolute_url() == old_url
    article.slug = "miners-day-two"
    services.save_articles([services.ArticleWrite(article)])
    response = client.get(old_url)
    assert (response.status_code, response["Location"]) == (301, "/articles/miners-day-two/")
    assert client.get("/?p=M0")["Location"] == "/articles/miners-day-two/"
    assert not LegacyPath.objects.filter(path="/").exists()


def test_a_text_prepared_ahead_is_written_as_the_write_would_prepare_it(topic, author):
    """An import's reader process cleans bodies and makes excerpts ahead (prepare_text): the
    article written is the one the write's own preparation makes."""
    editor_excerpt = "An <b>editor's</b>\x0b summary."
    ahead, itself = services.save_articles(
        [
            services.ArticleWrite(
                Article(title="Ahead", body=text.body, editor_excerpt=text.editor_excerpt),
                prepared=text,
            )
            for text in [services.prepare_text(RAW_BODY, editor_excerpt)]
        ]
        + [
            services.ArticleWrite(
                Article(title="Itself", body=RAW_BODY, editor_excerpt=editor_excerpt)
            )
        ]
    )
    ahead.refresh_from_db()
    itself.refresh_from_db()
    assert "script" not in ahead.body
    assert (ahead.body, ahead.editor_excerpt, ahead.excerpt) == (
        itself.body,
        itself.editor_excerpt,
        itself.excerpt,
    )
    assert ahead.excerpt == "An editor's summary."
    assert "\x0b" not in ahead.editor_excerpt


def test_a_prepared_text_is_taken_only_while_it_holds_and_its_signature_is_the_sites():
    genuine = services.prepare_text(RAW_BODY)
    forged = services.PreparedText(RAW_BODY, "", "Anything", genuine.signature)
    unsigned = services.PreparedText(RAW_BODY, "", "Anything", "0" * 64)
    changed = Article(title="Changed after", body=genuine.body + "<script>x()</script>")
    articles = [
        Article(title="Forged", body=RAW_BODY),
        Article(title="Unsigned", body=RAW_BODY),
        changed,
    ]
    services.save_articles(
        [
            services.ArticleWrite(article, prepared=text)
            for article, text in zip(articles, [forged, unsigned, genuine], strict=True)
        ]
    )
    for article in articles:
        article.refresh_from_db()
        # Prepared again by the write: cleaned, and its excerpt made from the cleaned body.
        assert "script" not in article.body
        assert "onclick" not in article.body
        assert article.excerpt.startswith("Miners marched on Lima on Monday")
    assert genuine.holds_for(Article(body=genuine.body))
    assert not genuine.holds_for(Article(body=genuine.body, editor_excerpt="Other"))
