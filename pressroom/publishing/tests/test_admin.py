"""The editor persona works in the admin: write, preview, schedule, publish, unpublish, find."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.utils import timezone

from pressroom.lib.admin_lists import QuickRowCheckboxes
from pressroom.publishing import services
from pressroom.publishing.models import Article, Author, Topic

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/publishing/article/add/"
CHANGELIST_URL = "/admin/publishing/article/"


def article_form(**fields) -> dict:
    """What the admin's add form posts, with an empty inline for old addresses."""
    data = {
        "title": "Teachers strike in Cusco",
        "slug": "",
        "body": "<p>Teachers walked out on Monday.</p>",
        "editor_excerpt": "",
        "status": "published",
        "published_at_0": "",
        "published_at_1": "",
        "authors_chosen": [],
        "topics_chosen": [],
        "lead_image_url": "",
        "lead_image_alt": "",
        "original_outlet": "",
        "original_url": "",
        "canonical_url": "",
        # The corrections inlines: a new one (empty), and the record (read-only).
        "corrections-TOTAL_FORMS": "1",
        "corrections-INITIAL_FORMS": "0",
        "corrections-MIN_NUM_FORMS": "0",
        "corrections-MAX_NUM_FORMS": "1",
        "corrections-0-kind": "correction",
        "corrections-0-text": "",
        "corrections-0-noted_at_0": "",
        "corrections-0-noted_at_1": "",
        "corrections-2-TOTAL_FORMS": "0",
        "corrections-2-INITIAL_FORMS": "0",
        "corrections-2-MIN_NUM_FORMS": "0",
        "corrections-2-MAX_NUM_FORMS": "0",
        "legacy_paths-TOTAL_FORMS": "0",
        "legacy_paths-INITIAL_FORMS": "0",
        "legacy_paths-MIN_NUM_FORMS": "0",
        "legacy_paths-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(fields)
    return data


def split(moment) -> dict:
    local = timezone.localtime(moment)
    return {"published_at_0": f"{local:%Y-%m-%d}", "published_at_1": f"{local:%H:%M:%S}"}


def test_editor_is_staff_not_superuser_and_reaches_publishing(editor, editor_client):
    assert editor.is_staff
    assert not editor.is_superuser
    index = editor_client.get("/admin/").content.decode()
    for model in ["article", "topic", "author"]:
        assert f'href="/admin/publishing/{model}/"' in index
    assert editor_client.get("/admin/auth/user/").status_code == 403


def test_add_form_uses_the_prose_editor_for_the_body(editor_client):
    html = editor_client.get(ADD_URL).content.decode()
    assert re.search(r'<textarea name="body"[^>]*data-django-prose-editor-configurable=', html)
    assert "django_prose_editor/" in html  # the editor's script and styles are loaded


def test_editor_adds_an_article_that_is_cleaned_and_published(
    reader_client, editor_client, topic, author
):
    response = editor_client.post(
        ADD_URL,
        article_form(
            body='<p onclick="steal()">Teachers walked out.<script>alert(1)</script></p>'
            '<p><a href="javascript:alert(2)">link</a></p>',
            authors_chosen=[author.pk],
            topics_chosen=[topic.pk],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get(title="Teachers strike in Cusco")
    assert article.status == Article.Status.PUBLISHED
    assert article.is_public
    assert article.slug == "teachers-strike-in-cusco"
    assert "script" not in article.body
    assert "onclick" not in article.body
    assert "javascript:" not in article.body
    assert article.excerpt == "Teachers walked out."
    assert list(article.authors.all()) == [author]
    assert list(article.topics.all()) == [topic]
    # Readers see it right away, on its page and in its topic.
    assert reader_client.get(article.get_absolute_url()).status_code == 200
    assert article.title in reader_client.get(topic.get_absolute_url()).content.decode()


def test_editor_schedules_an_article_and_previews_it_while_readers_get_404(
    reader_client, editor_client, topic
):
    when = timezone.now() + timedelta(days=2)
    response = editor_client.post(
        ADD_URL, article_form(status="scheduled", topics_chosen=[topic.pk], **split(when))
    )
    assert response.status_code == 302
    article = Article.objects.get()
    assert article.status == Article.Status.SCHEDULED
    assert not article.is_public
    assert reader_client.get(article.get_absolute_url()).status_code == 404
    assert article.title not in reader_client.get(topic.get_absolute_url()).content.decode()
    preview = editor_client.get(article.get_absolute_url())
    assert preview.status_code == 200
    assert "Preview: this article is scheduled" in preview.content.decode()
    assert preview["X-Robots-Tag"] == "noindex"


def test_publishing_with_a_future_time_schedules(editor_client):
    when = timezone.now() + timedelta(hours=3)
    editor_client.post(ADD_URL, article_form(status="published", **split(when)))
    article = Article.objects.get()
    assert article.status == Article.Status.SCHEDULED
    assert article.published_at > timezone.now()


def test_scheduling_without_a_future_time_is_refused_with_a_message(editor_client):
    response = editor_client.post(ADD_URL, article_form(status="scheduled"))
    assert response.status_code == 200
    assert "Choose a time in the future to schedule this article." in response.content.decode()
    assert not Article.objects.exists()


def test_draft_is_previewed_by_the_editor_and_hidden_from_readers(reader_client, editor_client):
    editor_client.post(ADD_URL, article_form(status="draft"))
    article = Article.objects.get()
    assert article.status == Article.Status.DRAFT
    assert reader_client.get(article.get_absolute_url()).status_code == 404
    preview = editor_client.get(article.get_absolute_url()).content.decode()
    assert "Preview: this article is draft" in preview


def test_editor_edits_an_article_and_the_change_is_cleaned(editor_client, make_article):
    article = make_article()
    url = f"/admin/publishing/article/{article.pk}/change/"
    form = editor_client.get(url).content.decode()
    assert article.title in form
    response = editor_client.post(
        url,
        article_form(
            title="Corrected title",
            slug=article.slug,
            body='<p>Corrected.</p><iframe src="https://evil.example/x"></iframe>',
            authors_chosen=[author.pk for author in article.authors.all()],
            topics_chosen=[topic.pk for topic in article.topics.all()],
            **split(article.published_at),
        ),
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Corrected title"
    assert "evil.example" not in article.body
    assert article.slug == "miners-march-on-lima"


def test_unpublish_and_publish_actions(reader_client, editor_client, make_article):
    first = make_article(title="First")
    second = make_article(title="Second")
    response = editor_client.post(
        CHANGELIST_URL,
        {"action": "unpublish", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert "2 article(s) unpublished." in [str(m) for m in get_messages(response.wsgi_request)]
    for article in (first, second):
        article.refresh_from_db()
        assert article.status == Article.Status.DRAFT
        assert reader_client.get(article.get_absolute_url()).status_code == 404

    editor_client.post(CHANGELIST_URL, {"action": "publish_now", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == Article.Status.PUBLISHED
    assert reader_client.get(first.get_absolute_url()).status_code == 200


def test_unpublishing_a_draft_warns_instead_of_failing(editor_client, make_article):
    draft = make_article(title="Still a draft", status="draft")
    response = editor_client.post(
        CHANGELIST_URL, {"action": "unpublish", "_selected_action": [draft.pk]}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("This article is not published." in message for message in messages)


def _changelist_titles(editor_client, query: str) -> set[str]:
    response = editor_client.get(CHANGELIST_URL + query)
    assert response.status_code == 200
    return set(
        re.findall(
            r'<th class="field-title"><a href="[^"]+">([^<]+)</a>', response.content.decode()
        )
    )


def test_changelist_filters_by_status_topic_and_author_and_searches_titles(
    editor_client, make_article, topic, author
):
    chile = services.save_topic(Topic(name="Chile"))
    luis = services.save_author(Author(name="Luis Mamani"))
    make_article(title="Peru by Ana")
    make_article(title="Chile by Luis", topics=[chile], authors=[luis])
    make_article(title="Peru draft", status="draft")
    make_article(title="Peru later", published_at=timezone.now() + timedelta(days=1))

    assert _changelist_titles(editor_client, "") == {
        "Peru by Ana",
        "Chile by Luis",
        "Peru draft",
        "Peru later",
    }
    assert _changelist_titles(editor_client, "?status__exact=draft") == {"Peru draft"}
    assert _changelist_titles(editor_client, "?status__exact=scheduled") == {"Peru later"}
    assert _changelist_titles(editor_client, f"?topic_links__topic__id__exact={chile.pk}") == {
        "Chile by Luis"
    }
    assert _changelist_titles(editor_client, f"?author_links__author__id__exact={author.pk}") == {
        "Peru by Ana",
        "Peru draft",
        "Peru later",
    }
    assert _changelist_titles(editor_client, "?q=chile") == {"Chile by Luis"}
    # Each offered as one select of a plain GET form (no script), the other filters kept.
    changelist = editor_client.get(CHANGELIST_URL + "?status__exact=draft").content.decode()
    assert 'name="topic_links__topic__id__exact"' in changelist
    assert f'<option value="{chile.pk}">Chile</option>' in changelist
    assert 'name="author_links__author__id__exact"' in changelist
    assert f'<option value="{luis.pk}">Luis Mamani</option>' in changelist
    assert '<input type="hidden" name="status__exact" value="draft">' in changelist
    chosen = editor_client.get(
        CHANGELIST_URL + f"?topic_links__topic__id__exact={chile.pk}"
    ).content.decode()
    assert f'<option value="{chile.pk}" selected>Chile</option>' in chosen


def test_each_row_checkbox_is_the_markup_django_writes(editor_client, make_article):
    """QuickRowCheckboxes writes the row checkboxes itself, as Django's widget would."""
    article = make_article(title='Peru <b>"marches"</b> & more')
    article_admin = admin.site._registry[Article]
    assert isinstance(article_admin, QuickRowCheckboxes)
    djangos = admin.ModelAdmin.action_checkbox(article_admin, article)
    assert article_admin.action_checkbox(article) == djangos
    assert djangos in editor_client.get(CHANGELIST_URL).content.decode()


def test_each_row_links_to_its_article_with_the_lists_filters_as_django_would(
    editor_client, editor, make_article
):
    """QuickRowLinks builds the rows' links from one reverse(): the same strings Django's
    url_for_result and add_preserved_filters give, so saving an article returns to the
    searched and filtered list."""
    from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
    from django.contrib.admin.views.main import ChangeList
    from django.test import RequestFactory
    from django.urls import resolve

    articles = [make_article(title=f"Peru & Chile story {n}") for n in range(3)]
    status = articles[0].status
    query = f"?q=Peru+%26+Chile&status__exact={status}&o=1"
    page = editor_client.get(CHANGELIST_URL + query).content.decode()
    request = RequestFactory().get(CHANGELIST_URL + query)
    request.user = editor
    request.resolver_match = resolve(CHANGELIST_URL)
    article_admin = admin.site._registry[Article]
    changelist = article_admin.get_changelist_instance(request)
    filters = article_admin.get_preserved_filters(request)
    assert "_changelist_filters" in filters
    for article in articles:
        djangos = add_preserved_filters(
            {"preserved_filters": filters, "opts": Article._meta},
            ChangeList.url_for_result(changelist, article),
        )
        assert changelist.url_for_result(article) == djangos
        assert f'href="{djangos.replace("&", "&amp;")}"' in page
    # Without filters, the plain change address.
    unfiltered = RequestFactory().get(CHANGELIST_URL)
    unfiltered.user = editor
    plain = article_admin.get_changelist_instance(unfiltered)
    assert (
        plain.url_for_result(articles[0]) == f"/admin/publishing/article/{articles[0].pk}/change/"
    )


def test_a_list_whose_change_address_cannot_be_made_falls_back_to_djangos_links(
    editor_client, editor, make_article, monkeypatch
):
    """An admin without the usual change page (another site, a custom get_urls) still lists
    its rows: the quick links step aside for Django's own, never a 500."""
    from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
    from django.contrib.admin.views.main import ChangeList
    from django.test import RequestFactory
    from django.urls import NoReverseMatch, resolve

    from pressroom.lib import admin_lists

    def no_change_page(*args, **kwargs):
        raise NoReverseMatch("no change page here")

    monkeypatch.setattr(admin_lists, "reverse", no_change_page)
    article = make_article(title="Peru story")
    query = "?q=Peru"
    request = RequestFactory().get(CHANGELIST_URL + query)
    request.user = editor
    request.resolver_match = resolve(CHANGELIST_URL)
    article_admin = admin.site._registry[Article]
    changelist = article_admin.get_changelist_instance(request)
    djangos = ChangeList.url_for_result(changelist, article)
    assert changelist.url_for_result(article) == djangos
    assert "_changelist_filters" in add_preserved_filters(
        {"preserved_filters": changelist.preserved_filters, "opts": Article._meta}, djangos
    )
    page = editor_client.get(CHANGELIST_URL + query)
    assert page.status_code == 200
    assert f"/admin/publishing/article/{article.pk}/change/" in page.content.decode()


def test_a_search_whose_matches_fit_on_the_first_page_is_not_counted_twice(
    editor_client, make_article, monkeypatch
):
    """The first page is read before any count: when every match is on it, its rows are the
    count (a title search would scan every title again to count them). A longer list is
    counted and paged as Django does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for number in range(3):
        make_article(title=f"Quechua radio {number}")
    make_article(title="Something else")
    article_count = "SELECT COUNT(*)"

    def counts_of_the_search(queries: CaptureQueriesContext) -> list[str]:
        return [
            query["sql"]
            for query in queries.captured_queries
            if query["sql"].startswith(article_count)
            and '"publishing_article"' in query["sql"]
            and "quechua" in query["sql"].lower()
        ]

    with CaptureQueriesContext(connection) as queries:
        page = editor_client.get(CHANGELIST_URL, {"q": "quechua"})
    assert page.status_code == 200
    changelist = page.context["cl"]
    assert changelist.result_count == 3
    assert sorted(article.title for article in changelist.result_list) == [
        f"Quechua radio {number}" for number in range(3)
    ]
    assert "3 articles" in page.content.decode()
    assert counts_of_the_search(queries) == []

    nothing = editor_client.get(CHANGELIST_URL, {"q": "no such words"})
    assert nothing.context["cl"].result_count == 0
    assert "0 articles" in nothing.content.decode()

    # More than a page: counted, and the second page holds the rest.
    monkeypatch.setattr(admin.site._registry[Article], "list_per_page", 2)
    with CaptureQueriesContext(connection) as queries:
        first = editor_client.get(CHANGELIST_URL, {"q": "quechua"})
    assert len(counts_of_the_search(queries)) == 1
    pages_read = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('SELECT "publishing_article"."id"')
        and "quechua" in query["sql"].lower()
    ]
    assert len(pages_read) == 1  # the rows read before the count are the first page
    assert (first.context["cl"].result_count, len(first.context["cl"].result_list)) == (3, 2)
    assert first.context["cl"].multi_page
    second = editor_client.get(CHANGELIST_URL, {"q": "quechua", "p": 2})
    assert (second.context["cl"].result_count, len(second.context["cl"].result_list)) == (3, 1)


def test_a_search_with_more_matches_than_the_cap_says_so_and_acts_on_every_match(
    editor_client, make_article, monkeypatch
):
    """A search's matches are counted up to a cap (a common word's count read every title):
    the list says "N+" wherever Django shows a count, pages up to the cap, and "select all"
    followed by an action still acts on every match, as its label says."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pressroom.lib.admin_lists import CappedCountPaginator

    matching = [make_article(title=f"Quechua radio {number}") for number in range(5)]
    other = make_article(title="Something else")
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 3)
    monkeypatch.setattr(admin.site._registry[Article], "list_per_page", 2)

    with CaptureQueriesContext(connection) as queries:
        page = editor_client.get(CHANGELIST_URL, {"q": "quechua"})
    assert page.status_code == 200
    changelist = page.context["cl"]
    assert changelist.result_count_capped
    assert (changelist.result_count, changelist.paginator.num_pages) == (3, 2)
    text = re.sub(r"\s+", " ", page.content.decode())
    assert "3+ articles: the first 3 are listed" in text
    assert "3+ results" in text
    assert "Select all 3+ articles that match" in text
    assert "Show all" not in text.split('class="paginator"')[1]
    counts = [query["sql"] for query in queries.captured_queries if "COUNT(*)" in query["sql"]]
    assert [sql for sql in counts if "quechua" in sql.lower() and "LIMIT 4" in sql]

    # A page past the cap (an old bookmark) is the last page counted, the search kept.
    past = editor_client.get(CHANGELIST_URL, {"q": "quechua", "p": 7})
    assert past.status_code == 200
    assert (past.context["cl"].page_num, len(past.context["cl"].result_list)) == (2, 1)
    assert 'value="quechua"' in past.content.decode()

    # The list without a search is counted exactly.
    unsearched = editor_client.get(CHANGELIST_URL)
    assert unsearched.context["cl"].result_count == 6
    assert not unsearched.context["cl"].result_count_capped

    # "Select all" on the search, then an action: all five matches, not three, not the other.
    response = editor_client.post(
        f"{CHANGELIST_URL}?q=quechua",
        {
            "action": "unpublish",
            "select_across": "1",
            "index": "0",
            "_selected_action": [matching[0].pk],
        },
    )
    assert response.status_code == 302
    statuses = dict(Article.objects.values_list("pk", "status"))
    assert {statuses[article.pk] for article in matching} == {"draft"}
    assert statuses[other.pk] == "published"


def test_editor_manages_topics_and_authors(reader_client, editor_client):
    response = editor_client.post(
        "/admin/publishing/topic/add/",
        {"name": "Climate", "slug": "climate", "description": "Heat.", "_save": "Save"},
    )
    assert response.status_code == 302
    assert Topic.objects.get(slug="climate").name == "Climate"
    assert reader_client.get("/topics/climate/").status_code == 200

    response = editor_client.post(
        "/admin/publishing/author/add/",
        {"name": "Luis Mamani", "slug": "luis-mamani", "bio": "Reports.", "_save": "Save"},
    )
    assert response.status_code == 302
    assert reader_client.get("/authors/luis-mamani/").status_code == 200


def test_oversized_body_is_refused_with_a_message_and_nothing_saved(editor_client, settings):
    settings.MAX_BODY_BYTES = 2000
    response = editor_client.post(ADD_URL, article_form(body="<p>" + "x" * 3000 + "</p>"))
    assert response.status_code == 200
    assert "The body is too long" in response.content.decode()
    assert not Article.objects.exists()


def test_two_articles_added_with_the_same_title_get_unique_addresses(editor_client):
    editor_client.post(ADD_URL, article_form())
    editor_client.post(ADD_URL, article_form())
    assert sorted(Article.objects.values_list("slug", flat=True)) == [
        "teachers-strike-in-cusco",
        "teachers-strike-in-cusco-2",
    ]


def test_old_address_added_in_the_admin_redirects_with_or_without_slash(
    reader_client, editor_client, make_article
):
    article = make_article()
    url = f"/admin/publishing/article/{article.pk}/change/"
    response = editor_client.post(
        url,
        article_form(
            title=article.title,
            slug=article.slug,
            body=article.body,
            authors_chosen=[author.pk for author in article.authors.all()],
            topics_chosen=[topic.pk for topic in article.topics.all()],
            **split(article.published_at),
            **{
                "legacy_paths-TOTAL_FORMS": "1",
                "legacy_paths-0-path": "https://old.example.org/2019/05/miners-march",
                "legacy_paths-0-article": str(article.pk),
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    for old in ["/2019/05/miners-march/", "/2019/05/miners-march"]:
        redirect = reader_client.get(old)
        assert redirect.status_code == 301
        assert redirect["Location"] == article.get_absolute_url()


def test_change_form_links_to_the_preview_on_site(editor_client, make_article):
    draft = make_article(status="draft")
    form = editor_client.get(f"/admin/publishing/article/{draft.pk}/change/").content.decode()
    view_on_site = re.search(r'href="(/admin/r/[^"]+)"', form)
    assert view_on_site, "the change form offers 'View on site'"
    preview = editor_client.get(view_on_site.group(1), follow=True)
    assert preview.redirect_chain[-1][0].endswith(draft.get_absolute_url())
    assert "Preview: this article is draft" in preview.content.decode()


def test_correcting_a_scheduled_article_after_it_went_live_keeps_it_live(
    reader_client, editor_client, make_article
):
    article = make_article(status="scheduled", published_at=timezone.now() - timedelta(hours=1))
    url = f"/admin/publishing/article/{article.pk}/change/"
    form = editor_client.get(url).content.decode()
    assert re.search(r'<option value="published" selected>', form)
    response = editor_client.post(
        url,
        article_form(
            title="Corrected after going live",
            slug=article.slug,
            status="published",
            authors_chosen=[author.pk for author in article.authors.all()],
            topics_chosen=[topic.pk for topic in article.topics.all()],
            **split(article.published_at),
        ),
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert reader_client.get(article.get_absolute_url()).status_code == 200


def test_old_address_added_on_its_own_redirects_at_once(
    reader_client, editor_client, make_article, django_capture_on_commit_callbacks
):
    article = make_article()
    assert reader_client.get("/?p=42").status_code == 404  # names no post, as on WordPress
    # Run what waits for the commit (telling the page cache), as a real request would.
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            "/admin/publishing/legacypath/add/",
            {"path": "https://old.example.org/?p=42", "article": article.pk, "_save": "1"},
        )
    assert response.status_code == 302
    redirect = reader_client.get("/?p=42")
    assert redirect.status_code == 301
    assert redirect["Location"] == article.get_absolute_url()


def test_deleting_a_topic_in_the_admin_takes_its_page_down_at_once(
    reader_client, editor_client, make_article, topic, django_capture_on_commit_callbacks
):
    make_article()
    assert reader_client.get(topic.get_absolute_url()).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            f"/admin/publishing/topic/{topic.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert reader_client.get("/topics/peru/").status_code == 404
