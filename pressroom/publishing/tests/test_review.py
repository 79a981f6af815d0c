"""Contributors and review (issue 13, point 1): a Contributor writes and submits their own
drafts and can neither publish, schedule nor touch anyone else's work; an Editor sees the
review queue, comments, sends back and publishes; each step is emailed to the other side by
the real task worker through a real SMTP server; readers never see an article in review."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Article, ArticleStateError, Author, ReviewComment
from pressroom.publishing.tests.test_admin import article_form as admin_form

pytestmark = pytest.mark.django_db

QUEUE = "/admin/publishing/article/review-queue/"


def change_url(article: Article) -> str:
    return reverse("admin:publishing_article_change", args=[article.pk])


def review_url(article: Article) -> str:
    return reverse("admin:publishing_article_review", args=[article.pk])


def logged_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def cora(make_staff):
    """Cora, a contributor who writes as the author "Cora Vega"."""
    user = make_staff("cora", "Contributor")
    services.save_author(Author(name="Cora Vega", user=user))
    return user


@pytest.fixture
def edna(make_staff):
    return make_staff("edna", "Editor")


def article_form(topic, author, **fields) -> dict:
    """What the admin's form posts (a contributor's has no status or time: ignored there)."""
    wanted = {
        "title": "Water rights in Cusco",
        "body": "<p>The river is drying.</p>",
        "status": "draft",
        "authors_chosen": [str(author.pk)],
        "topics_chosen": [str(topic.pk)],
        "review_note": "",
    }
    return admin_form(**{**wanted, **fields})


def draft_by(user, title: str = "Water rights in Cusco", **fields) -> Article:
    return services.save_article(
        Article(title=title, body="<p>The river is drying.</p>", **fields), by=user
    )


# --- Contributors ------------------------------------------------------------------------------


def test_a_contributor_starts_with_their_own_byline_and_writes_a_draft_only(cora, topic):
    browser = logged_in(cora)
    own = Author.objects.get(user=cora)
    add_page = browser.get("/admin/publishing/article/add/").content.decode()
    assert f'value="{own.pk}"' in add_page  # the byline starts with Cora Vega
    assert 'name="status"' not in add_page
    assert 'name="published_at"' not in add_page
    assert "Save and submit for review" in add_page

    # A status or a time smuggled into the form is ignored: it stays a draft.
    response = browser.post(
        "/admin/publishing/article/add/",
        article_form(topic, own, status="published", published_at_0="2026-01-01"),
    )
    assert response.status_code == 302
    article = Article.objects.get()
    assert article.status == Article.Status.DRAFT
    assert article.published_at is None
    assert article.created_by == cora
    assert article.bylines == [own]


def test_a_contributor_sees_and_edits_only_their_own_articles(cora, edna, make_staff, topic):
    own = draft_by(cora, "Cora's draft")
    others = draft_by(edna, "Edna's draft")
    colleague = draft_by(make_staff("carl", "Contributor"), "Carl's draft")
    browser = logged_in(cora)

    listing = browser.get("/admin/publishing/article/").content.decode()
    assert "Cora&#x27;s draft" in listing
    assert "Edna" not in listing
    assert "Carl" not in listing
    for article in (others, colleague):
        page = browser.get(change_url(article))
        assert page.status_code == 302  # "does not exist", as for a missing id
        form = article_form(topic, Author.objects.get(user=cora), title="Taken over")
        browser.post(change_url(article), form)
        article.refresh_from_db()
        assert article.title != "Taken over"
        assert (
            browser.get(
                reverse("admin:publishing_article_revisions", args=[article.pk])
            ).status_code
            == 404
        )
    assert browser.get(change_url(own)).status_code == 200


def test_a_contributor_cannot_publish_schedule_or_unpublish_in_any_way(cora, topic, make_article):
    own = draft_by(cora)
    browser = logged_in(cora)
    listing = browser.get("/admin/publishing/article/").content.decode()
    assert "publish_now" not in listing
    browser.post(
        "/admin/publishing/article/",
        {"action": "publish_now", "_selected_action": [own.pk], "index": 0},
    )
    schedule = article_form(
        topic,
        Author.objects.get(user=cora),
        status="scheduled",
        published_at_0=(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d"),
        published_at_1="09:00:00",
    )
    browser.post(change_url(own), schedule)
    assert browser.post(review_url(own), {"action": "publish", "text": ""}).status_code == 403
    assert browser.get(QUEUE).status_code == 403
    own.refresh_from_db()
    assert own.status == Article.Status.DRAFT
    assert own.published_at is None
    assert not Article.objects.published().filter(pk=own.pk).exists()


def test_submitting_puts_the_draft_in_review_and_out_of_the_contributors_hands(
    cora, topic, django_capture_on_commit_callbacks
):
    own = draft_by(cora)
    browser = logged_in(cora)
    form = article_form(
        topic,
        Author.objects.get(user=cora),
        title="Water rights in Cusco, checked",
        review_note="Quotes checked with the union.",
        _submit_for_review="Save and submit for review",
    )
    with django_capture_on_commit_callbacks():
        response = browser.post(change_url(own), form)
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.status == Article.Status.IN_REVIEW
    assert own.title == "Water rights in Cusco, checked"
    [submitted] = ReviewComment.objects.filter(article=own)
    assert (submitted.action, submitted.text, submitted.created_by) == (
        ReviewComment.Action.SUBMITTED,
        "Quotes checked with the union.",
        cora,
    )
    # In review the contributor reads it but cannot change it.
    page = browser.get(change_url(own)).content.decode()
    assert "Quotes checked with the union." in page
    assert 'name="title"' not in page
    assert "The river is drying." in page
    browser.post(change_url(own), {**form, "title": "Changed in review"})
    own.refresh_from_db()
    assert own.title == "Water rights in Cusco, checked"


# --- Editors -------------------------------------------------------------------------------------


def test_editors_review_queue_lists_submissions_longest_waiting_first(cora, edna):
    older = draft_by(cora, "Older submission")
    newer = draft_by(cora, "Newer submission")
    draft_by(cora, "Still a draft")
    services.submit_article_for_review(older, by=cora, comment="First one.")
    services.submit_article_for_review(newer, by=cora)
    ReviewComment.objects.filter(article=older).update(
        created_at=timezone.now() - timedelta(hours=3)
    )
    page = logged_in(edna).get(QUEUE).content.decode()
    assert page.index("Older submission") < page.index("Newer submission")
    assert "Still a draft" not in page
    assert "First one." in page
    assert "cora" in page
    listing = logged_in(edna).get("/admin/publishing/article/").content.decode()
    assert "Review queue (2)" in listing


def test_an_editor_comments_sends_back_with_a_comment_and_publishes(cora, edna, topic):
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    editor = logged_in(edna)

    page = editor.get(change_url(article)).content.decode()
    assert "Send back" in page
    assert "Publish" in page

    editor.post(review_url(article), {"action": "comment", "text": "Lovely lede."})
    refused = editor.post(review_url(article), {"action": "send_back", "text": "  "}, follow=True)
    assert "Say what to change" in refused.content.decode()
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW

    editor.post(review_url(article), {"action": "send_back", "text": "Name the second source."})
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    # Back in the writer's hands: she edits and resubmits.
    writer = logged_in(cora)
    assert writer.get(change_url(article)).context["has_change_permission"]
    services.submit_article_for_review(article, by=cora, comment="Source named.")

    editor.post(review_url(article), {"action": "publish", "text": "Thanks!"})
    article.refresh_from_db()
    assert article.is_public
    assert article.status == Article.Status.PUBLISHED
    steps = list(ReviewComment.objects.filter(article=article).values_list("action", "text"))
    assert steps == [
        ("submitted", ""),
        ("comment", "Lovely lede."),
        ("sent_back", "Name the second source."),
        ("submitted", "Source named."),
        ("published", "Thanks!"),
    ]
    history = editor.get(change_url(article)).content.decode()
    assert "Name the second source." in history
    # Published, it is the editors' again: the contributor may read it, not change it.
    assert not writer.get(change_url(article)).context["has_change_permission"]


def test_publishing_from_the_editors_form_also_closes_the_review(cora, edna, topic):
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    form = article_form(topic, Author.objects.get(user=cora), status="published")
    response = logged_in(edna).post(change_url(article), form)
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert ReviewComment.objects.filter(article=article).latest("id").action == "published"


@pytest.mark.parametrize("role", ["Audience", "Fundraising"])
def test_audience_and_fundraising_roles_see_no_articles_and_no_review(make_staff, cora, role):
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora)
    browser = logged_in(make_staff("other", role))
    for page in ("/admin/publishing/article/", QUEUE, change_url(article)):
        assert browser.get(page).status_code in (403, 302), page
        assert "Water rights" not in browser.get(page).content.decode()
    assert browser.post(review_url(article), {"action": "comment", "text": "Hi"}).status_code == 403
    assert not ReviewComment.objects.filter(action="comment").exists()


# --- The model and readers -----------------------------------------------------------------------


def test_the_article_guards_its_review_transitions(cora, make_article):
    published = make_article()
    with pytest.raises(ArticleStateError):
        published.submit_for_review()
    draft = draft_by(cora)
    with pytest.raises(ArticleStateError):
        draft.send_back()
    draft.submit_for_review()
    with pytest.raises(ArticleStateError):
        draft.submit_for_review()
    with pytest.raises(ArticleStateError):
        draft.unpublish()
    with pytest.raises(ArticleStateError):
        services.send_back_article(draft, by=cora, comment="")


def test_readers_never_see_an_article_in_review(cora, topic, author, reader_client):
    article = services.save_article(
        Article(title="Embargoed strike plan", body="<p>Secret until Friday.</p>"),
        topics=[topic],
        authors=[author],
        by=cora,
    )
    services.submit_article_for_review(article, by=cora)
    assert not Article.objects.published().filter(pk=article.pk).exists()
    assert reader_client.get(article.get_absolute_url()).status_code == 404
    for page in (
        "/",
        topic.get_absolute_url(),
        author.get_absolute_url(),
        "/feed/",
        "/sitemap.xml",
    ):
        response = reader_client.get(page)
        assert response.status_code == 200, page
        assert b"Embargoed strike plan" not in response.content, page


# --- Emails through the task worker and a real SMTP server ----------------------------------------


@dataclass
class Inbox:
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address: str) -> list:
        with self.lock:
            return [message for recipients, message in self.messages if address in recipients]


@pytest.fixture
def smtp_inbox(settings):
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    options = {"host": "127.0.0.1", "port": port, "timeout": 10}
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "bulk": {"BACKEND": backend, "OPTIONS": options},
    }
    yield inbox
    controller.stop()


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


@pytest.mark.django_db(transaction=True)  # the worker commits, as it does in production
def test_submissions_and_send_backs_are_emailed_by_the_worker(cora, edna, make_staff, smtp_inbox):
    make_staff("fran", "Fundraising")  # not an editor: never told
    article = draft_by(cora)
    services.submit_article_for_review(article, by=cora, comment="Ready, I think.")
    assert smtp_inbox.messages == []  # sent by the worker, not in the request
    run_worker()
    [submitted] = smtp_inbox.to("edna@example.org")
    assert submitted["Subject"] == "For review: Water rights in Cusco"
    text = submitted.get_body(preferencelist=("plain",)).get_content()
    assert "Ready, I think." in text
    assert f"/admin/publishing/article/{article.pk}/change/" in text
    assert smtp_inbox.to("cora@example.org") == []
    assert smtp_inbox.to("fran@example.org") == []

    logged_in(edna).post(
        review_url(article), {"action": "send_back", "text": "Name the second source & date."}
    )
    run_worker()
    run_worker()  # a second run sends nothing again
    [sent_back] = smtp_inbox.to("cora@example.org")
    assert sent_back["Subject"] == "Sent back to you: Water rights in Cusco"
    assert "Name the second source & date." in sent_back.get_body(("plain",)).get_content()
    assert "Name the second source &amp; date." in sent_back.get_body(("html",)).get_content()

    services.comment_on_article(article, by=cora, comment="Which date, the march or the vote?")
    run_worker()
    [question] = smtp_inbox.to("edna@example.org")[1:]
    assert question["Subject"] == "Comment on Water rights in Cusco"
    assert "Which date, the march or the vote?" in question.get_body(("plain",)).get_content()

    services.submit_article_for_review(article, by=cora)
    services.publish_article(article, by=edna)
    run_worker()
    assert [m["Subject"] for m in smtp_inbox.to("cora@example.org")] == [
        "Sent back to you: Water rights in Cusco",
        "Published: Water rights in Cusco",
    ]
    assert len(smtp_inbox.to("edna@example.org")) == 3  # two submissions and the question
    assert not ReviewComment.objects.filter(notified_at__isnull=True).exists()


def test_an_editor_cannot_put_an_article_in_review_without_a_submission(edna, topic, author):
    article = draft_by(edna)
    editor = logged_in(edna)
    page = editor.get(change_url(article)).content.decode()
    assert 'value="review"' not in page
    refused = editor.post(change_url(article), article_form(topic, author, status="review"))
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
