"""Revisions: every save keeps one (who, when, everything an editor can change), stored
compactly; any revision comes back exactly, and restoring one is itself a new revision."""

from __future__ import annotations

import random

import pytest

from pressroom.publishing import revisions, services
from pressroom.publishing.models import Article, Author, Revision, Topic


def _authors(*names: str) -> list[Author]:
    return [services.save_author(Author(name=name)) for name in names]


def _article_revisions(article: Article) -> list[Revision]:
    return list(Revision.objects.of(article).order_by("number"))


def test_every_save_keeps_a_revision_with_who_and_what_changed(make_article, editor):
    article = make_article(title="Miners march on Lima")
    article.title = "Miners march on Lima for a second day"
    services.save_article(article, by=editor)
    first, second = _article_revisions(article)
    assert (first.number, first.changed, first.created_by) == (1, "created", None)
    assert (second.number, second.changed, second.created_by) == (2, "title", editor)
    assert revisions.snapshot_of(first)["title"] == "Miners march on Lima"
    assert revisions.snapshot_of(second)["title"] == "Miners march on Lima for a second day"


def test_a_revision_keeps_bylines_in_order_topics_lead_image_and_settings(make_article, topic):
    tomas, ana = _authors("Tomás Mensah", "Ana Quispe")
    second_topic = services.save_topic(Topic(name="Mining"))
    article = make_article(
        authors=[tomas, ana],
        topics=[topic, second_topic],
        editor_excerpt="A march on the capital.",
        lead_image_url="https://example.org/march.jpg",
        lead_image_alt="Miners on the road",
    )
    snapshot = revisions.snapshot_of(_article_revisions(article)[-1])
    assert snapshot["authors"] == [tomas.pk, ana.pk]
    assert snapshot["topics"] == sorted([topic.pk, second_topic.pk])
    assert snapshot["editor_excerpt"] == "A march on the capital."
    assert snapshot["lead_image_url"] == "https://example.org/march.jpg"
    assert snapshot["status"] == "published"
    assert snapshot["slug"] == article.slug
    assert snapshot["published_at"] == article.published_at.isoformat()


def test_restoring_brings_back_text_bylines_in_order_and_topics_as_a_new_revision(
    make_article, topic, editor
):
    tomas, ana, rosa = _authors("Tomás Mensah", "Ana Quispe", "Rosa Huamán")
    mining = services.save_topic(Topic(name="Mining"))
    article = make_article(
        title="Miners march on Lima",
        body="<p>Thousands of miners marched on Lima.</p>",
        authors=[tomas, ana],
        topics=[topic],
    )
    original = _article_revisions(article)[-1]
    article.title = "A wrong title"
    article.body = "<p>Something else entirely.</p>"
    services.save_article(article, authors=[rosa, ana], topics=[mining], by=editor)

    restored = services.restore_revision(original, by=editor)

    article.refresh_from_db()
    assert article.title == "Miners march on Lima"
    assert article.body == "<p>Thousands of miners marched on Lima.</p>"
    assert list(
        article.author_links.order_by("position").values_list("author__name", flat=True)
    ) == ["Tomás Mensah", "Ana Quispe"]
    assert list(article.topics.values_list("pk", flat=True)) == [topic.pk]
    assert article.is_public
    assert restored.number == original.number + 2
    assert restored.note == f"Restored revision {original.number}"
    assert restored.created_by == editor
    assert len(_article_revisions(article)) == 3


def test_restoring_keeps_the_publication_state_and_skips_what_was_deleted(make_article, topic):
    gone_author, kept = _authors("Gone Author", "Kept Author")
    article = make_article(status="draft", authors=[gone_author, kept])
    draft_revision = _article_revisions(article)[-1]
    services.publish_article(article)
    gone_author.delete()

    services.restore_revision(draft_revision)

    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED  # restoring text does not unpublish
    assert list(article.authors.values_list("name", flat=True)) == ["Kept Author"]


def test_an_article_saved_before_revisions_existed_keeps_its_old_state_first(make_article):
    article = make_article(title="Before revisions")
    Revision.objects.of(article).delete()  # as if written by the release before this one
    article.title = "After revisions"
    services.save_article(article)
    baseline, change = _article_revisions(article)
    assert revisions.snapshot_of(baseline)["title"] == "Before revisions"
    assert revisions.snapshot_of(change)["title"] == "After revisions"


def test_an_import_writes_no_revision_until_an_article_is_first_edited(db, topic, author, editor):
    """Bulk writes (imports) cost no revision for articles nobody has edited here; the state
    they wrote becomes revision 1 at the first edit, so it can still be compared and restored."""
    writes = [
        services.ArticleWrite(
            Article(title=f"Imported {n}", body=f"<p>Post {n}.</p>"),
            author_ids=[author.pk],
            topic_ids=[topic.pk],
        )
        for n in range(5)
    ]
    services.save_articles(writes, note="Imported")
    assert not Revision.objects.exists()
    edited = writes[0].article
    edited.title = "Edited"
    services.save_article(edited, by=editor)
    imported, change = _article_revisions(edited)
    assert revisions.snapshot_of(imported)["title"] == "Imported 0"
    assert revisions.snapshot_of(imported)["authors"] == [author.pk]
    assert (change.number, change.created_by) == (2, editor)

    # A later import of the same articles keeps a whole revision of the edited one only.
    for write in writes:
        write.article.title += " (updated)"
    write_without_links = services.ArticleWrite(writes[0].article)
    services.save_articles([write_without_links, *writes[1:]])
    third = _article_revisions(edited)[-1]
    assert (third.number, third.base_number) == (3, 3)
    assert revisions.snapshot_of(third)["title"] == "Edited (updated)"
    assert revisions.snapshot_of(third)["topics"] == [topic.pk]  # links as they stayed
    assert Revision.objects.count() == 3


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    words = [
        "miners",
        "union",
        "wages",
        "march",
        "city",
        "council",
        "water",
        "land",
        "rights",
        "protest",
        "teachers",
    ]
    return [
        " ".join(
            " ".join(rng.choices(words, k=rng.randint(8, 18))).capitalize() + "."
            for _ in range(rng.randint(3, 6))
        )
        for _ in range(count)
    ]


def test_two_hundred_edits_stay_under_twenty_times_the_article_and_come_back_exactly(
    make_article, editor
):
    """The storage figure of the revisions acceptance point: 200 edits of a ~6 KB article
    (a word changed, a sentence added, a paragraph removed) stay far under 20x its size."""
    rng = random.Random(13)
    paragraphs = _paragraphs(rng, 12)
    article = make_article(body="".join(f"<p>{p}</p>" for p in paragraphs))
    bodies = []
    for edit in range(200):
        index = rng.randrange(len(paragraphs))
        words = paragraphs[index].split(" ")
        if edit % 10 == 9 and len(paragraphs) > 8:
            paragraphs.pop(index)
        elif edit % 7 == 6:
            paragraphs.insert(index, _paragraphs(rng, 1)[0])
        else:
            words[rng.randrange(len(words))] = rng.choice(["strikers", "nurses", "farmers"])
            paragraphs[index] = " ".join(words)
        article.body = "".join(f"<p>{p}</p>" for p in paragraphs)
        if edit % 25 == 0:
            article.title = f"Miners march on Lima, day {edit}"
        services.save_article(article, by=editor)
        bodies.append(article.body)

    rows = _article_revisions(article)
    assert len(rows) == 201
    article_bytes = sum(
        len(str(getattr(article, name)).encode()) for name in revisions.SNAPSHOT_FIELDS
    )
    # Each row: its compressed data, its short texts, and ~60 bytes of numbers, dates and keys.
    stored = sum(len(row.data) + len(row.changed) + len(row.note) + 60 for row in rows)
    ratio = stored / article_bytes
    print(f"200 edits of a {article_bytes} byte article: {stored} bytes stored ({ratio:.1f}x)")
    assert ratio < 20
    assert max(row.number - row.base_number for row in rows) < revisions.KEYFRAME_CHAIN
    for row, body in zip(rows[1:], bodies, strict=True):
        assert revisions.snapshot_of(row)["body"] == body


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", "<p>New.</p>"),
        ("<p>One. Two.</p><p>Three!</p>", "<p>One. Two and a half.</p><p>Three!</p>"),
        ("<p>a</p>\n<ul><li>x</li><li>y</li></ul>", "<ul><li>y</li></ul><p>a</p>"),
        ("<p>Same.</p>", "<p>Same.</p>"),
    ],
)
def test_text_deltas_rebuild_the_new_text_exactly(old, new):
    assert "".join(revisions.chunks(new)) == new
    assert revisions.apply_text_delta(old, revisions.text_delta(old, new)) == new


def test_deleting_an_article_deletes_its_revisions(make_article):
    article = make_article()
    article.title = "Changed"
    services.save_article(article)
    other = make_article(title="Another")
    assert Revision.objects.of(article).count() == 2
    services.delete_article(article)
    assert not Revision.objects.filter(
        object_id=article.pk, content_type=other.revisions.content_type
    ).exists()
    assert Revision.objects.of(other).count() == 1
