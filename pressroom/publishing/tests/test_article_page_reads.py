"""An uncached article page in as few queries as what it shows allows (issue 14, point 7), and
showing exactly what it showed when it read through prefetch_related: bylines in the editor's
order, topics by name, the corrections readers see, the lead image with its renditions, and
the related articles of its first topic."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from pressroom.lib.pagecache.pages import forget_memory
from pressroom.lib.prepared import PreparedRead, instance_from_db
from pressroom.media.models import MediaItem
from pressroom.media.tests.conftest import library_photo, media_root  # noqa: F401 (fixture)
from pressroom.publishing import article_page, services, views
from pressroom.publishing.models import Article, Author, Correction, Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsroom(db, make_article) -> dict[str, object]:
    """Three authors and three topics, filed against their alphabetical order, and articles
    under them (the related ones older than the one shown)."""
    authors = [
        services.save_author(Author(name=name)) for name in ("Zoe Ruiz", "Ana Diaz", "Mo Li")
    ]
    topics = [services.save_topic(Topic(name=name)) for name in ("Water", "Andes", "mining")]
    now = timezone.now()
    older = [
        make_article(
            f"Older story {number}",
            published_at=now - timedelta(days=number + 1),
            topics=[topics[1]],
            authors=[authors[1]],
        )
        for number in range(6)
    ]
    shown = make_article(
        "The story shown",
        body="<p>What happened in the Andes.</p>",
        published_at=now - timedelta(hours=1),
        topics=topics,
        authors=authors,
    )
    other = make_article(
        "Another story by them",
        published_at=now - timedelta(hours=2),
        topics=topics,
        authors=authors,
    )
    return {"authors": authors, "topics": topics, "shown": shown, "other": other, "older": older}


def page_queries(client, path: str) -> list[str]:
    """The statements of one render of `path`: no page stored, under the same content
    generation (what is kept per generation stays)."""
    cache.clear()
    forget_memory()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_an_article_page_makes_two_queries_once_its_authors_and_topics_are_kept(
    reader_client, newsroom
):
    """The article, then its bylines, topics and corrections as one statement of ids; the
    authors, topics and the topic's newest articles come from what every page of the same
    generation shares, and no query is made for corrections it does not have."""
    other: Article = newsroom["other"]  # type: ignore[assignment]
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    page_queries(reader_client, other.get_absolute_url())  # the same authors and topics
    queries = page_queries(reader_client, shown.get_absolute_url())
    assert len(queries) == 2, "\n".join(queries)
    assert "publishing_article" in queries[0]
    assert "publishing_articleauthor" in queries[1]
    assert "publishing_correction" in queries[1]


def test_the_first_article_page_of_a_generation_reads_authors_topics_and_related_once(
    reader_client, newsroom
):
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    queries = page_queries(reader_client, shown.get_absolute_url())
    # Past the two of the article: the authors (with their photos' renditions, two), the
    # topics, the first topic's newest articles and their bylines; and what any public page
    # reads once per generation (navigation, menus, banner).
    authors = [sql for sql in queries if 'FROM "publishing_author"' in sql]
    assert len(authors) == 1
    assert len([sql for sql in queries if 'FROM "publishing_topic"' in sql]) >= 1
    again = page_queries(reader_client, shown.get_absolute_url())
    assert len(again) == 2


def test_an_article_with_corrections_reads_them_with_its_links(reader_client, newsroom):
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    first = services.add_correction(shown, "The march was on Tuesday.", kind="correction")
    second = services.add_correction(shown, "Police figures added.", kind="update")
    removed = services.add_correction(shown, "A wrong note.", kind="clarification")
    services.remove_correction(removed, by=None, reason="Added by mistake.")
    page_queries(reader_client, newsroom["other"].get_absolute_url())  # type: ignore[attr-defined]
    queries = page_queries(reader_client, shown.get_absolute_url())
    # The article, then its authors, topics and corrections in one statement.
    assert len(queries) == 2, "\n".join(queries)
    assert "publishing_correction" in queries[1]
    html = reader_client.get(shown.get_absolute_url()).content.decode()
    notes = re.findall(r'<p id="correction-(\d+)">', html)
    assert notes == [str(first.pk), str(second.pk)]
    assert "A wrong note." not in html
    # Dates read by plain SQL come out as the ORM gives them (aware, in the site's zone).
    for note in (first, second):
        noted_at = timezone.localtime(note.noted_at).isoformat()
        assert f'<p id="correction-{note.pk}"><strong>' in html
        assert f'<time datetime="{noted_at}">' in html
    assert f'Updated <time datetime="{timezone.localtime(second.noted_at).isoformat()}">' in html


def test_an_article_with_a_lead_image_reads_its_renditions_in_one_more_query(
    reader_client,
    newsroom,
    media_root,  # noqa: F811
):
    photo: MediaItem = library_photo("lead.jpg", alt_text="Miners on the road")
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    shown.lead_image = photo
    services.save_article(shown, topics=newsroom["topics"], authors=newsroom["authors"])  # type: ignore[arg-type]
    page_queries(reader_client, newsroom["other"].get_absolute_url())  # type: ignore[attr-defined]
    queries = page_queries(reader_client, shown.get_absolute_url())
    assert len(queries) == 3, "\n".join(queries)
    assert "media_rendition" in queries[2]
    html = reader_client.get(shown.get_absolute_url()).content.decode()
    assert 'alt="Miners on the road"' in html
    assert "srcset=" in html


def test_bylines_keep_the_editors_order_and_topics_their_names_order(reader_client, newsroom):
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    html = reader_client.get(shown.get_absolute_url()).content.decode()
    meta = re.search(r'<p class="meta">(.*?)</p>', html, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<a href="/authors/[^"]+/">([^<]+)</a>', meta) == [
        "Zoe Ruiz",
        "Ana Diaz",
        "Mo Li",
    ]
    tags = re.search(r'<ul class="tags">(.*?)</ul>', html, re.DOTALL).group(1)  # type: ignore[union-attr]
    expected = [topic.name for topic in Topic.objects.filter(articles=shown).order_by("name")]
    assert re.findall(r'<a href="/topics/[^"]+/">([^<]+)</a>', tags) == expected


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_the_page_is_what_the_prefetching_read_rendered(newsroom, media_root):  # noqa: F811
    """The same article read as the page read it before (prefetch_related of bylines,
    corrections, topics and renditions) renders to the same page, byte for byte."""
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    shown.lead_image = library_photo("lead.jpg", alt_text="Miners on the road", caption="At noon")
    services.save_article(shown, topics=newsroom["topics"], authors=newsroom["authors"])  # type: ignore[arg-type]
    services.add_correction(shown, "The march was on Tuesday.", kind="correction")
    request = RequestFactory().get(shown.get_absolute_url())
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    prefetched = (
        Article.objects.select_related("lead_image")
        .with_bylines()
        .with_corrections()
        .prefetch_related("topics", "lead_image__renditions")
        .get(pk=shown.pk)
    )
    before = views.render_for_readers(request, prefetched, is_preview=False).content.decode()
    after = views.render_for_readers(
        request, article_page.article_or_404(shown.slug), is_preview=False
    ).content.decode()
    for shown_text in ("Zoe Ruiz", "The march was on Tuesday.", "At noon"):
        assert shown_text in after
    assert _without_tokens(after) == _without_tokens(before)


def test_related_articles_are_the_first_topics_newest_without_the_article_itself(
    reader_client, newsroom
):
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    other: Article = newsroom["other"]  # type: ignore[assignment]
    related = article_page.related_articles(article_page.article_or_404(shown.slug))
    # "Andes" comes first by name; its newest: the other story, then the older ones.
    assert [teaser.title for teaser in related] == [
        "Another story by them",
        "Older story 0",
        "Older story 1",
        "Older story 2",
    ]
    assert related[0].url == other.get_absolute_url()
    html = reader_client.get(shown.get_absolute_url()).content.decode()
    aside = re.search(
        r'<(aside|section) class="related".*?</(aside|section)>', html, re.DOTALL
    ).group(0)  # type: ignore[union-attr]
    assert f'href="{other.get_absolute_url()}"' in aside
    assert f'href="{shown.get_absolute_url()}"' not in aside
    assert "Older story 3" not in aside


def test_an_article_without_topics_has_no_related_block(reader_client, make_article):
    alone = make_article("Alone", topics=[])
    html = reader_client.get(alone.get_absolute_url()).content.decode()
    assert 'class="related"' not in html


def test_an_unknown_article_is_a_404(reader_client, db):
    assert reader_client.get("/articles/no-such-story/").status_code == 404


def test_a_draft_is_a_404_for_readers(reader_client, make_article):
    draft = make_article("Draft", status="draft")
    assert reader_client.get(draft.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("zone", ["UTC", "America/Lima", "Asia/Kathmandu"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_date_filters_give_what_djangos_date_filter_gave(zone, language, settings):
    settings.LANGUAGES = [("en", "English"), ("es", "Spanish")]
    moments = [
        datetime(2024, 3, 5, 23, 30, 15, 123456, tzinfo=UTC),
        datetime(1999, 12, 31, 4, 0, tzinfo=UTC),
        timezone.now(),
    ]
    ours = Template(
        "{% load publishing %}{{ at|iso_time }}|{{ at|long_date }}|{{ at|long_date_time }}"
    )
    djangos = Template("{{ at|date:'c' }}|{{ at|date:'j F Y' }}|{{ at|date:'j F Y, H:i' }}")
    with timezone.override(zone), translation.override(language):
        for at in moments:
            assert ours.render(Context({"at": at})) == djangos.render(Context({"at": at}))
        assert ours.render(Context({"at": None})) == "||"


def test_a_prepared_read_gives_what_the_queryset_gives(newsroom, media_root):  # noqa: F811
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    shown.lead_image = library_photo("lead.jpg", alt_text="Miners on the road")
    services.save_article(shown, topics=newsroom["topics"], authors=newsroom["authors"])  # type: ignore[arg-type]
    read = PreparedRead(
        lambda slug: Article.objects.select_related("lead_image").filter(slug=slug), "x"
    )
    for article in [shown, newsroom["other"]]:
        [prepared] = read(article.slug)  # type: ignore[attr-defined]
        queryset = Article.objects.select_related("lead_image").get(pk=article.pk)  # type: ignore[attr-defined]
        for field in Article._meta.concrete_fields:
            assert getattr(prepared, field.attname) == getattr(queryset, field.attname), field
        assert prepared.published_at.tzinfo is not None  # type: ignore[union-attr]
        assert prepared._state.adding is False
        with CaptureQueriesContext(connection) as queries:
            image = prepared.lead_image
        assert len(queries) == 0  # in place, or None in place
        if queryset.lead_image is None:
            assert image is None
        else:
            for field in MediaItem._meta.concrete_fields:
                assert getattr(image, field.attname) == getattr(queryset.lead_image, field.attname)
            assert image.is_decorative is False  # type: ignore[union-attr]  # a bool, converted
    assert read("no-such-slug") == []


def test_prepared_instances_made_without_init_are_the_querysets_and_work_as_models(
    db,
    media_root,  # noqa: F811
):
    # PreparedRead skips Model.__init__ for models nothing listens to (a tenth of an article
    # page's render went into setting thirty renditions field by field): the instances must be
    # what the QuerySet gives, and behave as models (descriptors, save, refresh).
    from django.db.models.signals import post_init

    from pressroom.media.models import Rendition

    item = library_photo("lead.jpg", alt_text="Miners on the road")
    read = PreparedRead(lambda pk: Rendition.objects.filter(item_id=pk).order_by("pk"), 0)
    prepared = read(item.pk)
    expected = list(Rendition.objects.filter(item_id=item.pk).order_by("pk"))
    assert len(prepared) == len(expected) > 10
    for mine, theirs in zip(prepared, expected, strict=True):
        assert type(mine) is Rendition
        assert mine == theirs
        for field in Rendition._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(theirs, field.attname), field
        assert mine.file.name == theirs.file.name
        assert mine.url == theirs.url
        assert (mine._state.adding, mine._state.db) == (False, "default")
    first = prepared[0]
    first.size = 12345
    first.save(update_fields=["size"])
    assert Rendition.objects.get(pk=first.pk).size == 12345
    assert first.item.pk == item.pk  # the foreign key reads its object as usual

    # A model something listens to is made through __init__, so the receiver runs.
    seen: list[int] = []

    def receiver(sender: type, instance: Rendition, **kwargs: object) -> None:
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Rendition)
    try:
        listened = PreparedRead(lambda pk: Rendition.objects.filter(item_id=pk), 0)
        found = listened(item.pk)
    finally:
        post_init.disconnect(receiver, sender=Rendition)
    assert sorted(seen) == sorted(rendition.pk for rendition in found)


def test_an_instance_made_from_some_columns_is_what_from_db_makes(newsroom, monkeypatch):
    # The page's corrections are made from five columns read by plain SQL: the others must be
    # deferred (read when asked for), as Model.from_db leaves them, and the instance saves.
    article = newsroom["shown"]
    note = services.add_correction(article, "The date was wrong.")
    columns = ["id", "article_id", "kind", "text", "noted_at"]
    values = [note.pk, article.pk, note.kind, note.text, note.noted_at]
    made = instance_from_db(Correction, "default", columns, values)
    expected = Correction.from_db("default", columns, values)
    assert type(made) is Correction
    assert made == expected
    assert made.get_deferred_fields() == expected.get_deferred_fields() != set()
    assert {name: made.__dict__[name] for name in columns} == {
        name: expected.__dict__[name] for name in columns
    }
    assert (made._state.adding, made._state.db) == (False, "default")
    assert made.removed_at is None  # a deferred column, read on first use
    made.text = "The date was wrong: it was 3 May."
    made.save(update_fields=["text"])
    assert Correction.objects.get(pk=note.pk).text == "The date was wrong: it was 3 May."

    # A model with a from_db of its own is made through it.
    made_by_model = []
    model_from_db = Correction.from_db.__func__

    def own_from_db(cls: type, alias: str, names: list[str], row: list) -> Correction:
        made_by_model.append(names)
        return model_from_db(cls, alias, names, row)

    monkeypatch.setattr(Correction, "from_db", classmethod(own_from_db))
    instance_from_db(Correction, "default", columns, values)
    assert made_by_model == [columns]
    # So is every row of a prepared read of it.
    every_column = [field.attname for field in Correction._meta.concrete_fields]
    read = PreparedRead(lambda pk: Correction.objects.filter(pk=pk), 0)
    assert [found.pk for found in read(note.pk)] == [note.pk]
    assert made_by_model[-1] == every_column


def test_a_prepared_read_refuses_what_it_cannot_keep(db):
    prefetching = PreparedRead(
        lambda slug: Article.objects.prefetch_related("topics").filter(slug=slug), "x"
    )
    with pytest.raises(ValueError, match="prefetch"):
        prefetching("any")
    two_values = PreparedRead(lambda slug: Article.objects.filter(slug=slug, title="fixed"), "x")
    with pytest.raises(ValueError, match="one parameter"):
        two_values("any")


def test_kept_authors_are_read_again_once_content_changes(
    reader_client, newsroom, django_capture_on_commit_callbacks
):
    shown: Article = newsroom["shown"]  # type: ignore[assignment]
    assert "Zoe Ruiz" in reader_client.get(shown.get_absolute_url()).content.decode()
    zoe: Author = newsroom["authors"][0]  # type: ignore[index]
    zoe.name = "Zoe Ruiz Quispe"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_author(zoe)
    html = reader_client.get(shown.get_absolute_url()).content.decode()
    assert "Zoe Ruiz Quispe" in html
    assert Correction.objects.count() == 0
