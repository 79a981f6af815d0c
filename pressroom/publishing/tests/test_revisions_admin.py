"""The editor works with revisions in the admin: list, compare word by word, restore, save a
change as pending, preview it and publish it; other roles see none of it."""

from __future__ import annotations

import pytest

from pressroom.publishing import diffs, revisions, services
from pressroom.publishing.models import Article, Author, Revision
from pressroom.publishing.tests.test_admin import article_form, split

pytestmark = pytest.mark.django_db


def change_url(article: Article) -> str:
    return f"/admin/publishing/article/{article.pk}/change/"


def revisions_url(article: Article) -> str:
    return f"/admin/publishing/article/{article.pk}/revisions/"


def edit_form(article: Article, **fields) -> dict:
    """What the change form posts for `article` as stored, with `fields` changed."""
    data = article_form(
        title=article.title,
        slug=article.slug,
        body=article.body,
        status=article.status,
        authors_chosen=[a.pk for a in article.authors.all()],
        topics_chosen=[t.pk for t in article.topics.all()],
        **split(article.published_at),
    )
    data.update(fields)
    return data


def test_the_diff_is_word_level_on_the_text_not_on_the_markup():
    old: revisions.Snapshot = {
        "title": "Miners march on Lima",
        "body": '<p>Thousands of <a href="https://a.example/">miners</a> marched on Monday.</p>'
        "<p>Police watched.</p>",
    }
    new = dict(
        old,
        title="Miners march on Lima again",
        # The link's address and markup change, the words of the first paragraph do not.
        body='<p>Thousands of <strong><a href="https://b.example/">miners</a></strong> marched '
        "on Tuesday.</p><p>Police watched.</p><p>A new paragraph.</p>",
    )
    comparisons = {c.label: c for c in diffs.compare(old, new)}
    body = comparisons["Body"].html
    assert body == (
        "<p>Thousands of miners marched on <del>Monday.</del> <ins>Tuesday.</ins></p>"
        "<p>Police watched.</p><p><ins>A new paragraph.</ins></p>"
    )
    assert "href" not in body
    assert "strong" not in body
    assert comparisons["Title"].html == "<p>Miners march on Lima <ins>again</ins></p>"
    assert not comparisons["Topics"].changed


def test_the_diff_escapes_what_editors_wrote():
    html = diffs.word_diff(["5 < 6"], ["5 < 6 & <script>alert(1)</script>"])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_editor_lists_compares_and_restores_revisions(editor, editor_client, make_article):
    article = make_article(title="Miners march on Lima", body="<p>They marched on Monday.</p>")
    response = editor_client.post(
        change_url(article), edit_form(article, body="<p>They marched on Tuesday.</p>")
    )
    assert response.status_code == 302
    listing = editor_client.get(revisions_url(article))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "edna" in page
    assert "Restore" in page
    assert "body" in page

    compare = editor_client.get(revisions_url(article) + "compare/?old=1&new=2")
    assert compare.status_code == 200
    assert "<del>Monday.</del> <ins>Tuesday.</ins>" in compare.content.decode()

    confirm = editor_client.get(revisions_url(article) + "1/restore/")
    assert confirm.status_code == 200
    restored = editor_client.post(revisions_url(article) + "1/restore/", {"_restore": "1"})
    assert restored.status_code == 302
    article.refresh_from_db()
    assert article.body == "<p>They marched on Monday.</p>"
    newest = Revision.objects.of(article).first()
    assert (newest.number, newest.note, newest.created_by) == (3, "Restored revision 1", editor)


@pytest.mark.parametrize(
    "query", ["", "?old=1", "?old=x&new=2", "?old=1&new=99", "?old=-1&new=2", "?old=1&new=9" * 50]
)
def test_a_bad_comparison_request_is_sent_back_with_a_message(editor_client, make_article, query):
    article = make_article()
    response = editor_client.get(revisions_url(article) + "compare/" + query)
    assert response.status_code == 302
    assert response["Location"] == revisions_url(article)


def test_roles_without_articles_cannot_see_or_restore_revisions(
    audience_client, fundraiser_client, make_article
):
    article = make_article()
    for client in (audience_client, fundraiser_client):
        for url in (
            revisions_url(article),
            revisions_url(article) + "compare/?old=1&new=1",
            revisions_url(article) + "1/preview/",
            revisions_url(article) + "1/restore/",
        ):
            assert client.get(url).status_code == 403, url
        assert client.post(revisions_url(article) + "1/restore/").status_code == 403
        assert (
            client.post(f"/admin/publishing/article/{article.pk}/preview-link/").status_code == 403
        )


def test_anonymous_visitors_are_sent_to_the_login(reader_client, make_article):
    article = make_article()
    response = reader_client.get(revisions_url(article))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_pending_change_waits_previews_and_publishes(
    editor, editor_client, reader_client, make_article, django_capture_on_commit_callbacks
):
    """With the page cache on: readers keep the cached published version until publication."""
    article = make_article(title="Miners march on Lima", body="<p>They marched on Monday.</p>")
    tomas = services.save_author(Author(name="Tomás Mensah"))
    assert "Monday" in reader_client.get(article.get_absolute_url()).content.decode()

    assert reader_client.get(article.get_absolute_url())["X-Page-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            change_url(article),
            edit_form(
                article,
                body="<p>They marched on Tuesday.</p>",
                authors_chosen=[tomas.pk, *[a.pk for a in article.authors.all()]],
                _save_pending="Save as pending change",
            ),
        )
    assert response.status_code == 302
    assert response["Location"] == change_url(article)
    article.refresh_from_db()
    assert article.body == "<p>They marched on Monday.</p>"  # readers' version untouched
    public = reader_client.get(article.get_absolute_url()).content.decode()
    assert "Monday" in public
    assert "Tuesday" not in public
    pending = revisions.pending_change(article)
    assert pending is not None
    assert pending.created_by == editor

    # The change form goes on from the pending change.
    form = editor_client.get(change_url(article)).content.decode()
    assert "Tuesday" in form
    assert "pending change" in form
    assert f'name="pending_number" value="{pending.number}"' in form

    preview = editor_client.get(revisions_url(article) + f"{pending.number}/preview/")
    assert preview.status_code == 200
    shown = preview.content.decode()
    assert "They marched on Tuesday." in shown
    assert "Monday" not in shown
    byline = shown[shown.index('class="meta"') :]
    assert byline.index("Tomás Mensah") < byline.index("Ana Quispe")  # bylines as chosen
    assert '<meta name="robots" content="noindex">' in shown
    assert {"private", "no-store"} <= set(preview["Cache-Control"].replace(" ", "").split(","))
    assert preview["X-Robots-Tag"] == "noindex"

    with django_capture_on_commit_callbacks(execute=True):
        published = editor_client.post(revisions_url(article) + f"{pending.number}/publish/")
    assert published.status_code == 302
    article.refresh_from_db()
    assert article.body == "<p>They marched on Tuesday.</p>"
    assert article.is_public
    assert "Tuesday" in reader_client.get(article.get_absolute_url()).content.decode()
    pending.refresh_from_db()
    assert pending.state == Revision.State.PUBLISHED
    assert revisions.pending_change(article) is None
    # Publishing twice is refused with a message, not an error page.
    again = editor_client.post(revisions_url(article) + f"{pending.number}/publish/")
    assert again.status_code == 302


def test_saving_the_form_that_shows_a_pending_change_publishes_it(editor_client, make_article):
    article = make_article(body="<p>Old.</p>")
    editor_client.post(
        change_url(article), edit_form(article, body="<p>New.</p>", _save_pending="1")
    )
    pending = revisions.pending_change(article)
    response = editor_client.post(
        change_url(article), edit_form(article, body="<p>New.</p>", pending_number=pending.number)
    )
    assert response.status_code == 302
    article.refresh_from_db()
    pending.refresh_from_db()
    assert article.body == "<p>New.</p>"
    assert pending.state == Revision.State.PUBLISHED


def test_a_pending_change_can_be_discarded(editor_client, make_article):
    article = make_article(body="<p>Old.</p>")
    editor_client.post(
        change_url(article), edit_form(article, body="<p>New.</p>", _save_pending="1")
    )
    pending = revisions.pending_change(article)
    assert (
        editor_client.get(revisions_url(article) + f"{pending.number}/discard/").status_code == 405
    )
    editor_client.post(revisions_url(article) + f"{pending.number}/discard/")
    pending.refresh_from_db()
    assert pending.state == Revision.State.DISCARDED
    article.refresh_from_db()
    assert article.body == "<p>Old.</p>"


def test_restoring_as_a_pending_change_leaves_readers_version_alone(editor_client, make_article):
    article = make_article(body="<p>First.</p>")
    editor_client.post(change_url(article), edit_form(article, body="<p>Second.</p>"))
    editor_client.post(revisions_url(article) + "1/restore/", {"_pending": "1"})
    article.refresh_from_db()
    assert article.body == "<p>Second.</p>"
    pending = revisions.pending_change(article)
    assert revisions.snapshot_of(pending)["body"] == "<p>First.</p>"
