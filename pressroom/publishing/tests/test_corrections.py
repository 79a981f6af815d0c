"""Corrections and updates, in public: on the article, in its JSON-LD and feeds, on
/corrections/ with its feed; removing one needs a reason that stays on record."""

import json
import re

import feedparser
import pytest
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Article, ArticleStateError, Correction
from pressroom.publishing.tests.test_admin import article_form, split

pytestmark = pytest.mark.django_db

WRONG = "An earlier version of this article misstated the number of marchers."


def change_form(article: Article, **fields) -> dict:
    data = article_form(
        title=article.title,
        slug=article.slug,
        body=article.body,
        status="published",
        authors_chosen=[a.pk for a in article.bylines],
        topics_chosen=[t.pk for t in article.topics.all()],
        **split(article.published_at),
    )
    data.update(fields)
    return data


def _formset_prefixes(page: str) -> list[str]:
    return re.findall(r'name="([\w-]+)-TOTAL_FORMS"', page)


def test_an_editor_adds_a_correction_from_the_article_and_readers_see_it(
    editor_client, reader_client, make_article, editor
):
    article = make_article()
    page = editor_client.get(f"/admin/publishing/article/{article.pk}/change/").content.decode()
    assert _formset_prefixes(page)[:2] == ["corrections", "corrections-2"]
    before = Article.objects.get(pk=article.pk).updated_at
    response = editor_client.post(
        f"/admin/publishing/article/{article.pk}/change/",
        change_form(article, **{"corrections-0-text": WRONG}),
    )
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.formset.errors for f in response.context["inline_admin_formsets"]],
        [f.formset.non_form_errors() for f in response.context["inline_admin_formsets"]],
    )
    correction = Correction.objects.get()
    assert (correction.text, correction.created_by) == (WRONG, editor)
    assert Article.objects.get(pk=article.pk).updated_at > before

    reader_page = reader_client.get(article.get_absolute_url()).content.decode()
    today = timezone.localtime(correction.noted_at).strftime("%-d %B %Y")
    assert "Correction, <time datetime=" in reader_page
    assert f"{today}</time>:</strong> {WRONG}" in reader_page.replace("&#x27;", "'")
    assert 'href="#corrections">Updated <time' in reader_page
    # The page's NewsArticle (every page also carries the outlet's NewsMediaOrganization).
    (data,) = [
        found
        for found in map(json.loads, re.findall(r'ld\+json">(.*?)</script>', reader_page, re.S))
        if found["@type"] == "NewsArticle"
    ]
    assert data["correction"][0]["text"] == f"Correction: {WRONG}"
    assert data["dateModified"] > data["datePublished"]


def test_a_draft_cannot_carry_a_correction_and_the_form_says_so(editor_client, make_article):
    article = make_article(status="draft")
    response = editor_client.post(
        f"/admin/publishing/article/{article.pk}/change/",
        change_form(article, status="draft", **{"corrections-0-text": WRONG}),
    )
    assert response.status_code == 200
    assert "Only a published article carries corrections" in response.content.decode()
    assert not Correction.objects.exists()
    with pytest.raises(ArticleStateError):
        services.add_correction(article, WRONG)


def test_feeds_carry_the_correction_and_the_modified_time(reader_client, make_article):
    article = make_article()
    services.add_correction(article, WRONG, kind=Correction.Kind.UPDATE)
    atom = feedparser.parse(reader_client.get("/feed/atom/").content)
    entry = atom.entries[0]
    assert entry.updated_parsed > entry.published_parsed
    assert WRONG in entry.content[0].value
    rss = feedparser.parse(reader_client.get("/feed/").content)
    assert "Update, " in rss.entries[0].content[0].value
    assert WRONG in rss.entries[0].content[0].value


def test_the_corrections_page_and_feed_list_every_correction_newest_first(
    reader_client, make_article
):
    first = make_article("Miners march on Lima")
    second = make_article("Teachers strike in Cusco")
    hidden = make_article("A draft", status="draft")
    services.add_correction(first, "First fix.")
    services.add_correction(second, "Second fix.")
    Correction.objects.create(article=hidden, text="Never public.")
    page = reader_client.get("/corrections/").content.decode()
    assert page.index("Second fix.") < page.index("First fix.")
    assert "Never public." not in page
    assert f"{second.get_absolute_url()}#correction-" in page
    feed = feedparser.parse(reader_client.get("/corrections/feed/").content)
    assert not feed.bozo
    assert [e.title for e in feed.entries] == [
        "Correction: Teachers strike in Cusco",
        "Correction: Miners march on Lima",
    ]


def test_the_corrections_page_pages_by_cursor_and_refuses_bad_cursors(reader_client, make_article):
    article = make_article()
    for number in range(35):
        services.add_correction(article, f"Fix number {number}.")
    first = reader_client.get("/corrections/").content.decode()
    assert "Fix number 34." in first
    assert "Fix number 4." not in first
    older = re.search(r'href="\?(before=[^"]+)"', first).group(1)
    second = reader_client.get(f"/corrections/?{older}").content.decode()
    assert "Fix number 4." in second
    assert "Fix number 34." not in second
    for bad in ("before=x", "before=1-99999999999999999999", "before=1&after=2"):
        assert reader_client.get(f"/corrections/?{bad}").status_code == 404


def test_removing_a_correction_needs_a_reason_that_editors_keep_seeing(
    editor_client, reader_client, make_article, editor
):
    article = make_article()
    correction = services.add_correction(article, WRONG)
    url = f"/admin/publishing/correction/{correction.pk}/change/"
    assert editor_client.post(url.replace("change/", "delete/")).status_code == 403
    editor_client.post(url, {"reason": ""})
    correction.refresh_from_db()
    assert not correction.is_removed
    response = editor_client.post(url, {"reason": "Added to the wrong article."})
    assert response.status_code == 302
    correction.refresh_from_db()
    assert (correction.removal_reason, correction.removed_by) == (
        "Added to the wrong article.",
        editor,
    )
    assert WRONG not in reader_client.get(article.get_absolute_url()).content.decode()
    assert WRONG not in reader_client.get("/corrections/").content.decode()
    record = editor_client.get(f"/admin/publishing/article/{article.pk}/change/").content.decode()
    assert "Added to the wrong article." in record
    with pytest.raises(ValueError, match="removed already"):
        services.remove_correction(correction, by=editor, reason="Again")


def test_audience_staff_cannot_see_or_remove_corrections(audience_client, make_article):
    correction = services.add_correction(make_article(), WRONG)
    assert audience_client.get("/admin/publishing/correction/").status_code == 403
    response = audience_client.post(
        f"/admin/publishing/correction/{correction.pk}/change/", {"reason": "x"}
    )
    assert response.status_code == 403
    correction.refresh_from_db()
    assert not correction.is_removed


def test_an_overlong_correction_is_refused_with_a_message(editor_client, make_article):
    article = make_article()
    response = editor_client.post(
        f"/admin/publishing/article/{article.pk}/change/",
        change_form(article, **{"corrections-0-text": "x" * 2001}),
    )
    assert response.status_code == 200
    assert "at most 2000 characters" in response.content.decode()
    assert not Correction.objects.exists()
