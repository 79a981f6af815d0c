"""A signed, expiring preview link lets someone without an account read a draft or a pending
change; a tampered or expired link is refused with a clear page; no preview is ever cached or
indexed."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.test import Client

from pressroom.publishing import previews, services
from pressroom.publishing.models import Article

pytestmark = pytest.mark.django_db


@pytest.fixture
def source() -> Client:
    """Someone quoted in the article, without an account and without cookies."""
    return Client(HTTP_ACCEPT_ENCODING="")


def link(article: Article) -> str:
    return f"/preview/{previews.make_token(article)}/"


def assert_private_and_unindexed(response) -> None:
    assert {"private", "no-store"} <= {
        part.strip() for part in response["Cache-Control"].split(",")
    }
    assert response["X-Robots-Tag"] == "noindex"
    assert b'<meta name="robots" content="noindex">' in response.content


def test_a_preview_link_opens_a_draft_for_someone_without_an_account(source, make_article):
    draft = make_article(
        title="Water council resigns", body="<p>“We had no choice,” she said.</p>", status="draft"
    )
    assert source.get(draft.get_absolute_url()).status_code == 404
    url = link(draft)
    first = source.get(url)
    assert first.status_code == 200
    assert "“We had no choice,” she said." in first.content.decode()
    assert_private_and_unindexed(first)
    # A change that announces nothing (its on-commit work does not run in this test): a page
    # kept by the cache would still show the old quote.
    draft.body = "<p>“We had no other choice,” she said.</p>"
    services.save_article(draft)
    response = source.get(url)
    assert "“We had no other choice,” she said." in response.content.decode()
    assert response.get("X-Page-Cache") != "hit"
    assert_private_and_unindexed(response)
    # It is the real article page: the same template readers get.
    assert b'class="article"' in response.content
    assert b"not visible to readers" in response.content


def test_a_preview_link_shows_the_pending_change_of_a_live_article(
    source, reader_client, make_article, author
):
    article = make_article(title="Miners march", body="<p>Two thousand marched.</p>")
    article.body = "<p>Three thousand marched.</p>"
    services.save_pending_change(article, authors=[author], topics=[])
    previewed = source.get(link(article)).content.decode()
    assert "Three thousand" in previewed
    assert "Two thousand" not in previewed
    public = reader_client.get(article.get_absolute_url()).content.decode()
    assert "Two thousand" in public
    assert "Three thousand" not in public


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: signing.TimestampSigner(salt="other").sign_object({"article": 1}),
        lambda token: signing.TimestampSigner(salt=previews.SALT).sign_object({"article": "1"}),
        lambda token: signing.TimestampSigner(salt=previews.SALT).sign_object([1]),
        lambda token: "not-a-token",
        lambda token: "x" * 5000,
        lambda token: token + "x",
    ],
)
def test_a_tampered_link_gets_a_clear_403(source, make_article, tamper):
    token = previews.make_token(make_article(status="draft"))
    response = source.get(f"/preview/{tamper(token)}/")
    assert response.status_code == 403
    assert b"This preview link is not valid." in response.content
    assert response["Cache-Control"] == "private, no-store"


def test_an_expired_link_gets_a_clear_410(source, make_article, monkeypatch, settings):
    draft = make_article(status="draft")
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - settings.PREVIEW_LINK_SECONDS - 5)
    old = link(draft)
    monkeypatch.setattr(signing.time, "time", lambda: now - settings.PREVIEW_LINK_SECONDS + 60)
    recent = link(draft)
    monkeypatch.undo()
    response = source.get(old)
    assert response.status_code == 410
    assert b"This preview link has expired." in response.content
    assert source.get(recent).status_code == 200


def test_a_link_to_a_deleted_article_is_gone(source, make_article):
    draft = make_article(status="draft")
    url = link(draft)
    services.delete_article(draft)
    assert source.get(url).status_code == 410


def test_the_editor_makes_a_link_in_the_admin(editor_client, make_article, source):
    draft = make_article(status="draft", title="Water council resigns")
    response = editor_client.post(
        f"/admin/publishing/article/{draft.pk}/preview-link/", follow=True
    )
    page = response.content.decode()
    assert "Preview link" in page
    url = page.split('class="preview-link" href="', 1)[1].split('"', 1)[0]
    assert "/preview/" in url
    assert source.get(url[url.index("/preview/") :]).status_code == 200


def test_robots_are_kept_out_of_preview_links(client, db):
    assert "Disallow: /preview/" in client.get("/robots.txt").content.decode()
