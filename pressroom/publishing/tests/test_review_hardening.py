"""The review's weak points a hostile reading found (issue 13, point 1), each closed: a writer
cannot hide one text behind another with a pending change; pending changes never outlive a
change of state; previews never fail; state changes are locked and happen once (stale pages,
double clicks) on SQLite and PostgreSQL; leaving review by the form, or by a schedule, is
recorded as what it is; emails go only to the right people and writers cannot flood editors;
a taken-down article is not the writer's again; writers describe their own uploads; editors
see what a writer put in a byline or a canonical URL; the media library tells writers how
often an item is used, not where."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pressroom.media import services as media_services
from pressroom.media.models import MediaItem
from pressroom.media.tests.images import png_bytes
from pressroom.publishing import previews, revisions, services
from pressroom.publishing.models import Article, ArticleStateError, Author, ReviewComment, Revision
from pressroom.publishing.tests.test_admin import split
from pressroom.publishing.tests.test_review import (
    article_form,
    change_url,
    draft_by,
    logged_in,
    review_url,
)

pytestmark = pytest.mark.django_db

ADMIN = "/admin/publishing/article"


@pytest.fixture
def cora(make_staff):
    user = make_staff("cora", "Contributor")
    services.save_author(Author(name="Cora Vega", user=user))
    return user


@pytest.fixture
def edna(make_staff):
    return make_staff("edna", "Editor")


def own(user) -> Author:
    return Author.objects.get(user=user)


def steps(article: Article) -> list[str]:
    return list(article.review_comments.order_by("pk").values_list("action", flat=True))


# 1. Pending changes: an editor's, beside a published article; none outlives a change of state.


def test_a_contributor_cannot_keep_a_pending_change_to_hide_text_from_review(cora, edna, topic):
    article = draft_by(cora, "Honest title")
    writer = logged_in(cora)
    response = writer.post(
        change_url(article),
        article_form(topic, own(cora), title="Hidden text", _save_pending="1"),
        follow=True,
    )
    assert "only an editor keeps a pending change" in response.content.decode()
    assert not Revision.objects.of(article).pending().exists()
    # Restoring a revision as pending is refused the same way.
    response = writer.post(f"{ADMIN}/{article.pk}/revisions/1/restore/", {"_pending": "1"})
    assert response.status_code == 302
    assert not Revision.objects.of(article).pending().exists()
    # The service refuses any pending change beside a draft or an article in review.
    with pytest.raises(ArticleStateError, match="published or scheduled"):
        services.save_pending_change(article, authors=[], topics=[], by=edna)
    services.submit_article_for_review(article, by=cora)
    with pytest.raises(ArticleStateError):
        services.save_pending_change(article, authors=[], topics=[], by=edna)
    # The editor's form shows exactly the stored text, and Publish puts out that text.
    page = logged_in(edna).get(change_url(article)).content.decode()
    assert "Honest title" in page
    assert "Hidden text" not in page
    assert "Save as pending change" not in page  # not beside an article in review
    logged_in(edna).post(review_url(article), {"action": "publish"})
    article.refresh_from_db()
    assert (article.title, article.status) == ("Honest title", Article.Status.PUBLISHED)


def test_an_editor_on_a_draft_is_refused_a_pending_change_with_a_message(edna, topic, author):
    article = draft_by(edna, "Draft")
    response = logged_in(edna).post(
        change_url(article), article_form(topic, author, _save_pending="1"), follow=True
    )
    assert "Nothing was saved" in response.content.decode()
    assert not Revision.objects.of(article).pending().exists()


def test_changes_of_state_discard_an_open_pending_change(edna, make_article):
    article = make_article("Live")
    article.title = "Waiting change"
    pending = services.save_pending_change(article, authors=[], topics=[], by=edna)
    services.unpublish_article(Article.objects.get(pk=article.pk), by=edna)
    pending.refresh_from_db()
    assert pending.state == Revision.State.DISCARDED
    # Published again: the editor's next plain save does not publish the old pending text.
    services.publish_article(Article.objects.get(pk=article.pk), by=edna)
    stored = Article.objects.get(pk=article.pk)
    assert revisions.pending_change(stored) is None
    assert stored.title == "Live"


def test_submit_and_send_back_discard_a_pending_change(cora, edna):
    # A pending change left from before a take-down (stored as an older version left it).
    article = draft_by(cora)
    Revision.objects.of(article).update(state=Revision.State.PENDING)
    services.submit_article_for_review(article, by=cora)
    assert not Revision.objects.of(article).pending().exists()
    Revision.objects.of(article).filter(number=1).update(state=Revision.State.PENDING)
    services.send_back_article(article, by=edna, comment="More, please.")
    assert not Revision.objects.of(article).pending().exists()


# 2. A pending change with an empty slug keeps the article's; previews never fail.


def test_a_pending_change_with_an_empty_slug_keeps_the_articles_and_previews(
    edna, topic, author, make_article, client
):
    article = make_article("Live story")
    editor = logged_in(edna)
    form = article_form(topic, author, title="Live story, fixed", slug="", status="published")
    form.update(split(article.published_at))
    editor.post(change_url(article), {**form, "_save_pending": "1"})
    pending = revisions.pending_change(article)
    assert pending is not None
    assert revisions.snapshot_of(pending)["slug"] == article.slug
    preview = editor.get(f"{ADMIN}/{article.pk}/revisions/{pending.number}/preview/")
    assert preview.status_code == 200
    assert "Live story, fixed" in preview.content.decode()
    # One kept by the older code (slug ''), previewed in the admin and by a public link.
    stored = Article.objects.get(pk=article.pk)
    snapshot = revisions.snapshot_of(pending)
    snapshot["slug"] = ""
    revisions.next_revision(
        stored, snapshot, state=Revision.State.PENDING, note="Pending change", by=edna
    ).save()
    old = revisions.pending_change(stored)
    assert old is not None
    assert old.number > pending.number
    preview = editor.get(f"{ADMIN}/{article.pk}/revisions/{old.number}/preview/")
    assert preview.status_code == 200
    token = previews.make_token(stored)
    public = client.get(reverse("publishing:preview-link", kwargs={"token": token}))
    assert public.status_code == 200
    assert "Live story, fixed" in public.content.decode()


# 4. Locked, idempotent transitions (stale copies, as two pages or a double click hold them).


@pytest.mark.django_db(transaction=True)
def test_a_stale_publish_after_a_send_back_is_refused(cora, edna, make_staff):
    other = make_staff("ed2", "Editor")
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    stale = Article.objects.get(pk=article.pk)  # editor A's page
    services.send_back_article(Article.objects.get(pk=article.pk), by=other, comment="No.")
    with pytest.raises(ArticleStateError, match="no longer in review"):
        services.publish_article(stale, by=edna, from_review=True)
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    assert steps(article) == ["submitted", "sent_back"]


@pytest.mark.django_db(transaction=True)
def test_a_double_clicked_publish_publishes_once_and_emails_once(cora, edna):
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    first, second = Article.objects.get(pk=article.pk), Article.objects.get(pk=article.pk)
    services.publish_article(first, by=edna, from_review=True)
    with pytest.raises(ArticleStateError):
        services.publish_article(second, by=edna, from_review=True)
    # The list's "Publish now" twice: one publication, no second review step.
    services.publish_article(Article.objects.get(pk=article.pk), by=edna)
    assert steps(article) == ["submitted", "published"]
    # Through the review panel, twice: the second is refused with a message.
    response = logged_in(edna).post(review_url(article), {"action": "publish"}, follow=True)
    assert "no longer in review" in response.content.decode()
    assert steps(article) == ["submitted", "published"]


@pytest.mark.django_db(transaction=True)
def test_a_double_clicked_save_and_submit_submits_once(cora, topic):
    article = draft_by(cora)
    writer = logged_in(cora)
    form = article_form(topic, own(cora), _submit_for_review="1")
    writer.post(change_url(article), form)
    second = writer.post(change_url(article), form, follow=True)  # the second click
    assert "Nothing was saved: this article is no longer a draft" in second.content.decode()
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert steps(article) == ["submitted"]
    # A stale copy handed to the service directly is refused as well.
    stale = Article.objects.get(pk=article.pk)
    stale.status = Article.Status.DRAFT
    with pytest.raises(ArticleStateError):
        services.submit_article_for_review(stale, by=cora)
    assert steps(article) == ["submitted"]


# 5, 6. Leaving review from the form is recorded as what it is.


def test_an_editor_setting_draft_from_the_form_sends_it_back(cora, edna, topic):
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    response = logged_in(edna).post(
        change_url(article), article_form(topic, own(cora), status="draft"), follow=True
    )
    assert "recorded as sent back" in response.content.decode()
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    sent_back = article.review_comments.get(action=ReviewComment.Action.SENT_BACK)
    assert sent_back.text == services.DEFAULT_SEND_BACK_NOTE
    assert sent_back.created_by == edna


def test_scheduling_an_article_in_review_is_recorded_as_scheduled(cora, edna, topic):
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    later = timezone.now() + timedelta(days=2)
    form = article_form(topic, own(cora), status="scheduled", **split(later))
    logged_in(edna).post(change_url(article), form)
    article.refresh_from_db()
    assert article.status == Article.Status.SCHEDULED
    assert steps(article) == ["submitted", "scheduled"]
    scheduled = article.review_comments.get(action="scheduled")
    assert scheduled.text.startswith("Scheduled for ")
    # The service does the same.
    other = draft_by(cora, "Other")
    services.submit_article_for_review(other, by=cora)
    services.publish_article(other, later, by=edna)
    assert steps(other) == ["submitted", "scheduled"]


# 7. Emails: no writer, no writer email.


def test_a_send_back_with_no_writer_emails_no_one(cora, edna, make_staff):
    from pressroom.publishing.reviews import recipients_of

    make_staff("ed2", "Editor")
    article = draft_by(cora)
    submitted = services.submit_article_for_review(article, by=cora)
    cora.delete()
    article.refresh_from_db()
    assert article.created_by is None
    sent_back = services.send_back_article(article, by=edna, comment="Fix it.")
    assert recipients_of(sent_back) == []
    # The submission (its writer gone) still goes to the editors.
    assert recipients_of(ReviewComment.objects.get(pk=submitted.pk)) == [
        "ed2@example.org",
        "edna@example.org",
    ]


# 8. Writers' comments: only in review or after a send-back, and bounded.


def test_writers_comment_only_in_review_and_at_a_bounded_rate(cora, edna):
    article = draft_by(cora)
    writer = logged_in(cora)
    writer.post(review_url(article), {"action": "comment", "text": "Hello?"})
    assert steps(article) == []  # a draft never submitted
    services.submit_article_for_review(article, by=cora)
    for number in range(services.WRITER_COMMENTS_PER_HOUR + 2):
        response = writer.post(
            review_url(article), {"action": "comment", "text": f"Note {number}"}, follow=True
        )
    assert "in the last hour" in response.content.decode()
    assert steps(article).count("comment") == services.WRITER_COMMENTS_PER_HOUR
    services.send_back_article(article, by=edna, comment="Shorter.")
    ReviewComment.objects.filter(action="comment").update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    writer.post(review_url(article), {"action": "comment", "text": "Which part?"})
    assert steps(article)[-1] == "comment"  # on the draft sent back to them
    services.submit_article_for_review(article, by=cora)
    services.publish_article(article, by=edna, from_review=True)
    writer.post(review_url(article), {"action": "comment", "text": "Thanks!"})
    assert steps(article)[-1] == "published"  # not on a published article


# 9. A taken-down article is not the writer's again.


def test_a_contributor_cannot_edit_or_share_an_article_taken_down(cora, edna, topic):
    article = draft_by(cora, "Once live")
    services.submit_article_for_review(article, by=cora)
    services.publish_article(article, by=edna, from_review=True)
    services.unpublish_article(Article.objects.get(pk=article.pk), by=edna)
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    assert not article.is_editable_by_contributor(cora)
    writer = logged_in(cora)
    writer.post(change_url(article), article_form(topic, own(cora), title="Rewritten"))
    assert writer.post(f"{ADMIN}/{article.pk}/preview-link/").status_code == 403
    article.refresh_from_db()
    assert article.title == "Once live"
    # A draft sent back (never published) stays theirs.
    fresh = draft_by(cora, "Fresh")
    services.submit_article_for_review(fresh, by=cora)
    services.send_back_article(fresh, by=edna, comment="Again.")
    fresh.refresh_from_db()
    assert fresh.is_editable_by_contributor(cora)


# 3, 10. The media library: writers describe their own uploads and see counts, not titles.


def test_contributors_describe_their_own_uploads_only_and_see_no_titles(
    cora, edna, make_staff, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    carl = make_staff("carl", "Contributor")
    mine, _ = media_services.add_item_from_bytes(png_bytes(seed=7), "mine.png", created_by=cora)
    theirs, _ = media_services.add_item_from_bytes(png_bytes(seed=8), "their.png", created_by=carl)
    services.save_article(
        Article(title="Carl's secret draft", body="<p>x</p>", lead_image=mine), by=carl
    )
    writer = logged_in(cora)
    url = f"/admin/media/mediaitem/{mine.pk}/change/"
    page = writer.get(url).content.decode()
    assert "secret draft" not in page
    assert "Used in 1 place(s)." in page
    assert 'name="replace_with"' not in page
    assert 'name="licence"' not in page
    writer.post(
        url,
        {
            "alt_text": "A river bed, dry",
            "caption": "The Vilcanota in May",
            "credit": "Cora Vega",
            "is_decorative": "",
            "licence": "cc0",
            "original_name": "renamed.png",
        },
    )
    mine.refresh_from_db()
    assert (mine.alt_text, mine.caption, mine.credit) == (
        "A river bed, dry",
        "The Vilcanota in May",
        "Cora Vega",
    )
    assert mine.original_name == "mine.png"  # not one of the four fields
    writer.post(f"/admin/media/mediaitem/{theirs.pk}/change/", {"alt_text": "Mine now"})
    theirs.refresh_from_db()
    assert theirs.alt_text == ""
    writer.post(f"/admin/media/mediaitem/{mine.pk}/delete/", {"post": "yes"})
    assert MediaItem.objects.filter(pk=mine.pk).exists()
    assert "Carl&#x27;s secret draft" in logged_in(edna).get(url).content.decode()


# 11. The editor sees a byline naming someone else, and a canonical URL.


def test_the_review_shows_a_foreign_byline_and_a_canonical_url(cora, edna, author):
    article = draft_by(cora, canonical_url="https://elsewhere.example/story")
    services.save_article(article, authors=[author], by=cora)
    services.submit_article_for_review(article, by=cora)
    editor = logged_in(edna)
    for page in (editor.get(change_url(article)), editor.get(f"{ADMIN}/review-queue/")):
        text = page.content.decode()
        assert "Byline names someone other than its writer: Ana Quispe" in text
        assert "https://elsewhere.example/story" in text
    mine = draft_by(cora, "Mine")
    services.save_article(mine, authors=[own(cora)], by=cora)
    services.submit_article_for_review(mine, by=cora)
    assert "someone other" not in editor.get(change_url(mine)).content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_editors_publishing_at_the_same_moment_publish_once(cora, edna, make_staff):
    """Two publishes in flight at once (two editors, or a double click reaching two server
    threads): the second waits for the first's lock, then finds it published and is refused."""
    import threading

    from django.db import connections, transaction

    if connections["default"].vendor == "sqlite":
        pytest.skip("SQLite serializes writers; the stale-copy tests above cover it there")
    other = make_staff("ed2", "Editor")
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    first_locked = threading.Event()
    outcomes: list[str] = []

    def first_editor() -> None:
        try:
            with transaction.atomic():
                services.publish_article(
                    Article.objects.get(pk=article.pk), by=edna, from_review=True
                )
                first_locked.set()
                threading.Event().wait(0.5)  # hold the lock while the second one tries
            outcomes.append("published")
        finally:
            first_locked.set()
            connections.close_all()

    def second_editor() -> None:
        stale = Article.objects.get(pk=article.pk)  # loaded before the first commits
        first_locked.wait(5)
        try:
            services.publish_article(stale, by=other, from_review=True)
            outcomes.append("published")
        except ArticleStateError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_editor), threading.Thread(target=second_editor)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["published", "refused"]
    assert steps(article) == ["submitted", "published"]
