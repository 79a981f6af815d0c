"""Editors write standing pages (About, Contact, Privacy...) at /<slug>/ and nested paths, with
the articles' editor, revisions and previews; readers find them, and nothing else moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone

from pressroom.lib.pagecache.generation import current_generation, next_moment
from pressroom.publishing import previews, revisions, services
from pressroom.publishing.models import ArticleStateError, LegacyPath, Page, Revision

pytestmark = pytest.mark.django_db
ADD_URL = "/admin/publishing/page/add/"


def make_page(title: str = "About us", **fields) -> Page:
    fields.setdefault("body", "<p>We report on movements.</p>")
    fields.setdefault("status", Page.Status.PUBLISHED)
    return services.save_page(Page(title=title, **fields))


def page_form(**fields) -> dict:
    """What the admin's page form posts."""
    data = {
        "title": "Republishing policy",
        "slug": "",
        "parent": "",
        "body": "<p>Republish our articles under CC BY-ND.</p>",
        "summary": "",
        "status": "published",
        "published_at_0": "",
        "published_at_1": "",
        "show_in_sitemap": "on",
        "pending_number": "",
        "legacy_paths-TOTAL_FORMS": "0",
        "legacy_paths-INITIAL_FORMS": "0",
        "legacy_paths-MIN_NUM_FORMS": "0",
        "legacy_paths-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return data


def page_change_url(page: Page) -> str:
    return f"/admin/publishing/page/{page.pk}/change/"


def test_a_page_lives_at_its_slug_and_a_sub_page_under_its_parent(reader_client):
    about = make_page("About us", slug="about")
    team = make_page("Our team", slug="team", parent=about)
    assert about.get_absolute_url() == "/about/"
    assert team.get_absolute_url() == "/about/team/"
    response = reader_client.get("/about/team/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Our team</h1>" in html
    assert "Skip to content" in html  # the site's own layout
    assert '<link rel="canonical" href="' in html
    assert '/about/team/">' in html
    assert "noindex" not in html
    assert reader_client.get("/about/team").status_code == 301  # the slash is added


def test_the_body_is_cleaned_as_an_article_body_is():
    page = make_page(body='<p onclick="steal()">Hello<script>alert(1)</script></p>')
    assert page.body == "<p>Hello</p>"
    assert page.excerpt == "Hello"


def test_published_is_the_menus_queryset_and_drafts_stay_out_of_it(reader_client):
    live = make_page("Contact", slug="contact")
    draft = make_page("Ethics", slug="ethics", status=Page.Status.DRAFT)
    assert list(Page.objects.published()) == [live]
    assert reader_client.get(draft.get_absolute_url()).status_code == 404


def test_an_editor_previews_a_draft_page_never_cached_nor_indexed(editor_client):
    draft = make_page("Ethics", slug="ethics", status=Page.Status.DRAFT)
    for _ in range(2):
        response = editor_client.get("/ethics/")
        assert response.status_code == 200
        assert response.get("X-Page-Cache") != "hit"
        assert "no-store" in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex"
        assert b'<meta name="robots" content="noindex">' in response.content
        assert b"not visible to readers" in response.content
    assert draft.pk


def test_a_preview_link_opens_a_draft_page_for_someone_without_an_account(client):
    draft = make_page("Ethics", slug="ethics", status=Page.Status.DRAFT)
    response = client.get(f"/preview/{previews.make_token(draft)}/")
    assert response.status_code == 200
    assert b"<h1>Ethics</h1>" in response.content
    assert response["X-Robots-Tag"] == "noindex"
    assert b"this page is a draft" in response.content


def test_unknown_addresses_are_a_404_after_one_indexed_page_look_up(reader_client):
    make_page("About us", slug="about")
    with CaptureQueriesContext(connection) as queries:
        response = reader_client.get("/no-such-page/")
    assert response.status_code == 404
    page_queries = [q["sql"] for q in queries if q["sql"].startswith('SELECT "publishing_page"')]
    assert len(page_queries) == 1
    assert '"path" = ' in page_queries[0].replace("`", '"')  # the unique path index
    # Not a page look-up: the icon (front/views.favicon).
    assert reader_client.get("/favicon.ico").status_code == 302
    # A slash is added only where a page is: not to every slug-shaped address.
    assert reader_client.get("/no-such-page").status_code == 404
    assert reader_client.get("/static/secret_key").status_code == 404
    assert reader_client.get("/about")["Location"] == "/about/"
    assert reader_client.get("/a/b/c/d/e/f/g/").status_code == 404  # deeper than any page


def test_every_other_address_still_resolves_to_its_own_view():
    for path, name in [
        ("/", "publishing:home"),
        ("/admin/", "admin:index"),
        ("/feed/", "publishing:feed"),
        ("/topics/", "publishing:topic-list"),
        ("/corrections/", "publishing:correction-list"),
        ("/sitemap.xml", "sitemap"),
        ("/donate/", "fundraising:donate"),
        ("/search/", "search:search"),
        ("/about/", "pages:page-detail"),
    ]:
        assert resolve(path).view_name == name, path


def test_a_page_cannot_take_another_views_address(editor_client):
    with pytest.raises(ArticleStateError, match="another part of the site"):
        make_page("Topics", slug="topics")
    response = editor_client.post(ADD_URL, page_form(title="Topics", slug="topics"))
    assert response.status_code == 200
    assert "belongs to another part of the site" in response.content.decode()
    assert not Page.objects.exists()


def test_old_addresses_still_redirect_through_the_catch_all(reader_client, make_article):
    article = make_article(title="Miners march")
    contact = make_page("Contact", slug="contact")
    services.write_legacy_paths(
        {"/2019/05/miners-march/": article, "/contact-us/": contact, "/?page_id=7": contact}
    )
    for old, new in [
        ("/2019/05/miners-march/", article.get_absolute_url()),
        ("/2019/05/miners-march", article.get_absolute_url()),
        ("/contact-us/", "/contact/"),
        ("/?page_id=7", "/contact/"),
    ]:
        response = reader_client.get(old)
        assert response.status_code == 301, old
        assert response["Location"] == new, old


def test_a_renamed_parent_moves_its_sub_pages_and_their_old_addresses_redirect(reader_client):
    about = make_page("About us", slug="about")
    team = make_page("Our team", slug="team", parent=about)
    about.slug = "who-we-are"
    services.save_page(about)
    team.refresh_from_db()
    assert team.path == "who-we-are/team"
    for old, new in [("/about/", "/who-we-are/"), ("/about/team/", "/who-we-are/team/")]:
        response = reader_client.get(old)
        assert response.status_code == 301
        assert response["Location"] == new
    assert LegacyPath.objects.filter(page=team).count() == 1


def test_same_slug_under_one_parent_is_numbered_and_a_loop_is_refused(editor_client):
    about = make_page("About us", slug="about")
    team = make_page("Team", slug="team", parent=about)
    assert make_page("Team", slug="team", parent=about).path == "about/team-2"
    assert make_page("Team", slug="team").path == "team"  # elsewhere, the slug is free
    response = editor_client.post(
        page_change_url(about), page_form(title="About us", slug="about", parent=team.pk)
    )
    assert response.status_code == 200
    assert "cannot be nested under itself" in response.content.decode()
    about.refresh_from_db()
    assert about.parent is None


def test_a_page_with_sub_pages_is_not_deleted_alone():
    about = make_page("About us", slug="about")
    make_page("Team", slug="team", parent=about)
    with pytest.raises(ArticleStateError, match="sub-pages"):
        services.delete_page(about)
    assert Page.objects.count() == 2


def test_the_sitemap_lists_published_pages_that_ask_to_be_listed(reader_client):
    make_page("About us", slug="about")
    make_page("Thanks", slug="thanks", show_in_sitemap=False)
    make_page("Ethics", slug="ethics", status=Page.Status.DRAFT)
    index = reader_client.get("/sitemap.xml").content.decode()
    assert "sitemap-pages.xml" in index
    sitemap = reader_client.get("/sitemap-pages.xml").content.decode()
    assert "/about/</loc>" in sitemap
    assert "/thanks/" not in sitemap
    assert "/ethics/" not in sitemap


def test_a_page_change_shows_on_cached_pages_at_once(
    reader_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = make_page("About us", slug="about", body="<p>Founded in 2019.</p>")
    assert b"Founded in 2019." in reader_client.get("/about/").content
    assert reader_client.get("/about/")["X-Page-Cache"] == "hit"
    page.body = "<p>Founded in 2018.</p>"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_page(page)
    response = reader_client.get("/about/")
    assert response.get("X-Page-Cache") != "hit"
    assert b"Founded in 2018." in response.content


def test_an_editor_writes_a_page_in_the_admin_with_the_articles_editor(
    editor, editor_client, reader_client
):
    form = editor_client.get(ADD_URL).content.decode()
    assert "data-django-prose-editor-configurable" in form
    response = editor_client.post(ADD_URL, page_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    page = Page.objects.get()
    assert page.path == "republishing-policy"
    assert page.is_public
    assert reader_client.get("/republishing-policy/").status_code == 200
    revision = Revision.objects.of(page).get()
    assert revision.created_by == editor


def test_page_revisions_compare_restore_and_pending_changes(
    editor_client, reader_client, django_capture_on_commit_callbacks
):
    response = editor_client.post(ADD_URL, page_form(body="<p>Republish us freely.</p>"))
    page = Page.objects.get()
    editor_client.post(
        page_change_url(page), page_form(slug=page.slug, body="<p>Republish us with credit.</p>")
    )
    listing = editor_client.get(f"/admin/publishing/page/{page.pk}/revisions/")
    assert listing.status_code == 200
    compared = editor_client.get(
        f"/admin/publishing/page/{page.pk}/revisions/compare/", {"old": 1, "new": 2}
    ).content.decode()
    assert "<del>freely.</del>" in compared
    assert "<ins>with credit.</ins>" in compared
    assert "<h2>Topics" not in compared  # a page's own fields only
    assert "<h2>Parent page (unchanged)</h2>" in compared

    response = editor_client.post(
        page_change_url(page),
        page_form(
            slug=page.slug,
            body="<p>Republish us with credit and a link.</p>",
            _save_pending="Save as pending change",
        ),
    )
    assert response.status_code == 302
    assert b"with credit.</p>" in reader_client.get("/republishing-policy/").content
    pending = revisions.pending_change(page)
    assert pending is not None
    preview = editor_client.get(
        f"/admin/publishing/page/{page.pk}/revisions/{pending.number}/preview/"
    )
    assert b"with credit and a link." in preview.content
    assert preview["X-Robots-Tag"] == "noindex"
    # The change form shows the pending change; publishing it puts it before readers.
    assert "with credit and a link." in editor_client.get(page_change_url(page)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # cached pages give way
        editor_client.post(f"/admin/publishing/page/{page.pk}/revisions/{pending.number}/publish/")
    assert b"with credit and a link." in reader_client.get("/republishing-policy/").content

    editor_client.post(f"/admin/publishing/page/{page.pk}/revisions/1/restore/")
    page.refresh_from_db()
    assert page.body == "<p>Republish us freely.</p>"
    assert page.is_public
    assert Revision.objects.of(page).first().note == "Restored revision 1"


def test_a_preview_link_for_a_page_is_made_in_the_admin(editor_client, client, settings):
    page = make_page("Ethics", slug="ethics", status=Page.Status.DRAFT)
    response = editor_client.post(f"/admin/publishing/page/{page.pk}/preview-link/", follow=True)
    html = response.content.decode()
    assert "read this page for" in html
    url = html.split('class="preview-link" href="')[1].split('"')[0]
    assert url.startswith(settings.SITE_URL + "/preview/")
    opened = client.get(url.removeprefix(settings.SITE_URL))
    assert opened.status_code == 200
    assert b"<h1>Ethics</h1>" in opened.content


def test_roles_without_publishing_see_no_pages(audience_client):
    assert audience_client.get("/admin/publishing/page/").status_code == 403


def test_a_page_published_for_later_appears_by_itself_when_its_time_comes(
    reader_client, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        page = make_page("Annual report", slug="annual-report", published_at=later)
    assert not page.is_public
    assert Page.objects.next_publication_after(timezone.now()) == later
    assert reader_client.get("/annual-report/").status_code == 404
    # The page cache knows the moment: pages stored before it are not served after it.
    assert next_moment(current_generation()) == later.timestamp()


def test_a_live_page_wins_over_an_old_address_at_its_path(
    reader_client, make_article, django_capture_on_commit_callbacks
):
    article = make_article(title="Contact the strikers")
    services.write_legacy_paths({"/contact/": article})
    assert reader_client.get("/contact/").status_code == 301  # no page there yet
    with django_capture_on_commit_callbacks(execute=True):  # the stored 301 gives way
        make_page("Contact", slug="contact")
    response = reader_client.get("/contact/")
    assert response.status_code == 200
    assert response.context["page"].title == "Contact"


def test_an_editor_points_an_old_address_at_a_page(editor_client, reader_client):
    page = make_page("Contact", slug="contact")
    response = editor_client.post(
        page_change_url(page),
        page_form(
            title="Contact",
            slug="contact",
            **{
                "legacy_paths-TOTAL_FORMS": "1",
                "legacy_paths-0-path": "https://old.example.org/contact-us",
            },
        ),
    )
    assert response.status_code == 302
    assert LegacyPath.objects.get(page=page).path == "/contact-us/"
    response = reader_client.get("/contact-us/")
    assert response.status_code == 301
    assert response["Location"] == "/contact/"


def test_a_page_with_sub_pages_offers_no_delete(editor_client):
    about = make_page("About us", slug="about")
    team = make_page("Team", slug="team", parent=about)
    assert editor_client.get(f"/admin/publishing/page/{about.pk}/delete/").status_code == 403
    assert editor_client.get(f"/admin/publishing/page/{team.pk}/delete/").status_code == 200


def test_a_move_that_would_put_a_sub_page_at_another_views_address_is_a_form_error(
    editor_client,
):
    parent = make_page("Parent", slug="pa")
    make_page("Child", slug="sometoken2", parent=parent)
    response = editor_client.post(
        page_change_url(parent), page_form(title="Parent", slug="articles")
    )
    assert response.status_code == 200  # was a 500
    assert "Its sub-page /pa/sometoken2/ would move to /articles/sometoken2/" in (
        response.content.decode()
    )
    assert Page.objects.get(pk=parent.pk).path == "pa"


@pytest.mark.parametrize("slug", ["static", "media", "preview"])
def test_addresses_nginx_or_robots_keep_from_pages_are_refused(slug):
    with pytest.raises(ArticleStateError, match="another part of the site"):
        make_page("Somewhere", slug=slug)


def test_a_draft_pages_address_is_not_told_apart_from_a_missing_one(reader_client):
    make_page("Secret plans", slug="secret-plans", status=Page.Status.DRAFT)
    assert reader_client.get("/secret-plans").status_code == 404
    assert reader_client.get("/no-such-thing").status_code == 404
    make_page("About", slug="about")
    assert reader_client.get("/about")["Location"] == "/about/"
