"""Every WordPress address family keeps working after an import (issue 21): one permanent
redirect, inside the site, to a page answering 200; feeds to valid feeds; pages not brought
over answer 410; renames, two imported sites and clashes."""

from __future__ import annotations

import re
from datetime import UTC
from io import StringIO
from pathlib import Path

import feedparser
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.timezone import localtime

from pressroom.importers.addresses import check_addresses, export_addresses
from pressroom.importers.tests.legacy_export import generated_export
from pressroom.importers.tests.wxr_samples import THEME_UNIT_TEST_DATA
from pressroom.publishing import services
from pressroom.publishing.models import Article, Author, LegacyPath, Topic

pytestmark = pytest.mark.django_db(transaction=False)


def import_export(tmp_path: Path, data: bytes, *args: str, name: str = "old.xml") -> str:
    export = tmp_path / name
    export.write_bytes(data)
    out = StringIO()
    call_command("import_wxr", str(export), *args, stdout=out)
    return out.getvalue()


def landing(client: Client, path: str) -> tuple[str, object]:
    response = client.get(path)
    assert response.status_code == 301, (path, response.status_code)
    location = response["Location"]
    assert location.startswith("/"), location
    assert not location.startswith("//"), location
    landed = client.get(location)
    assert landed.status_code == 200, (path, location, landed.status_code)
    return location, landed


def first_titles(landed, count: int = 1) -> list[str]:
    return [teaser.title for teaser in landed.context["page"].items[:count]]


def wordpress_order(articles) -> list[str]:
    return [a.title for a in sorted(articles, key=lambda a: (a.published_at, a.pk), reverse=True)]


def old_permalink(article: Article) -> str:
    """The generated export's permalink of an article (its date is the post's, in UTC)."""
    return f"/{article.published_at.astimezone(UTC):%Y/%m/%d}/{article.slug}/"


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    export = tmp_path / "generated.xml"
    export.write_bytes(generated_export())
    call_command("import_wxr", str(export), stdout=StringIO())
    return export


def test_every_family_of_the_theme_unit_test_export_resolves(tmp_path, client):
    call_command("import_wxr", str(THEME_UNIT_TEST_DATA), stdout=StringIO())
    out = StringIO()
    try:
        call_command("check_legacy_urls", str(THEME_UNIT_TEST_DATA), stdout=out)
    except CommandError:
        pytest.fail(out.getvalue())
    table = out.getvalue()
    for family in ("post", "category page", "tag feed", "author", "date archive", "search"):
        assert f"\n{family} " in table, table
    assert "Every old address resolves." in table


def test_every_family_of_a_generated_export_resolves(generated):
    with generated.open("rb") as source:
        addresses = export_addresses(source)
    results = check_addresses(addresses)
    families = set(results)
    assert {
        "post", "post (?p=)", "page", "page (?page_id=)", "category", "category (query)",
        "category feed", "category page", "tag", "tag (query)", "tag feed", "tag page",
        "author", "author (query)", "author feed", "author page", "front page", "site feed",
        "comments feed", "search", "date archive",
    } <= families  # fmt: skip
    for family, result in results.items():
        assert result.broken == [], family
        assert result.resolved == result.addresses > 0, family


@pytest.mark.parametrize(
    ("old", "topic_slug", "pages"),
    [
        ("/tag/mining/", "mining", (2,)),
        ("/category/world/", "world", (2, 3, 4)),
        ("/category/world/peru/", "peru", (2, 5)),
    ],
)
def test_a_paginated_archive_lands_on_the_page_starting_with_wordpress_first_article(
    generated, client, old, topic_slug, pages
):
    topic = Topic.objects.get(slug=topic_slug)
    expected = wordpress_order(Article.objects.published().for_topic(topic))
    assert len(expected) > 4 * (max(pages) - 1)
    for page in pages:
        location, landed = landing(client, f"{old}page/{page}/")
        assert location.startswith(topic.get_absolute_url() + "?before=")
        # The export said 4 posts a page: WordPress's page N began with post 4 * (N - 1).
        assert first_titles(landed) == [expected[4 * (page - 1)]]
    assert landing(client, f"{old}page/1/")[0] == topic.get_absolute_url()
    assert client.get(f"{old}page/999/").status_code == 404  # past the end, as in WordPress


def test_front_page_date_and_author_pages_land_where_wordpress_pages_began(generated, client):
    everything = wordpress_order(Article.objects.published())
    _, landed = landing(client, "/page/3/")
    assert first_titles(landed) == [everything[8]]
    _, landed = landing(client, "/?paged=2")
    assert first_titles(landed) == [everything[4]]
    author = Author.objects.get(name="Reporter")
    by_author = wordpress_order(Article.objects.published().by_author(author))
    location, landed = landing(client, "/author/reporter/page/2/")
    assert location.startswith(author.get_absolute_url())
    assert first_titles(landed) == [by_author[4]]
    june = [a for a in Article.objects.published() if localtime(a.published_at).month == 6]
    location, landed = landing(client, "/2021/06/page/2/")
    assert location.startswith("/archive/2021/6/?before=")
    assert first_titles(landed) == [wordpress_order(june)[4]]


def test_wp_per_page_given_to_the_import_wins_over_the_export(tmp_path, client):
    import_export(tmp_path, generated_export(per_page=None), "--wp-per-page", "3")
    everything = wordpress_order(Article.objects.published())
    _, landed = landing(client, "/page/2/")
    assert first_titles(landed) == [everything[3]]


def test_without_a_posts_per_page_wordpress_default_of_ten_is_used(tmp_path, client):
    import_export(tmp_path, generated_export(per_page=None))
    everything = wordpress_order(Article.objects.published())
    _, landed = landing(client, "/page/2/")
    assert first_titles(landed) == [everything[10]]


@pytest.mark.parametrize(
    ("old", "kind", "feed_path"),
    [
        ("/tag/mining/feed/", "rss", "/topics/mining/feed/"),
        ("/tag/mining/feed/atom/", "atom", "/topics/mining/feed/atom/"),
        ("/category/world/feed/rss2/", "rss", "/topics/world/feed/"),
        ("/category/world/peru/feed/rdf/", "rss", "/topics/peru/feed/"),
        ("/author/reporter/feed/", "rss", "/authors/reporter/feed/"),
        ("/author/reporter/feed/atom/", "atom", "/authors/reporter/feed/atom/"),
        ("/feed/rss2/", "rss", "/feed/"),
        ("/feed/rdf/", "rss", "/feed/"),
        ("/feed/rss/", "rss", "/feed/"),
        ("/comments/feed/", "rss", "/feed/"),
        ("/?feed=atom", "atom", "/feed/atom/"),
    ],
)
def test_feed_readers_following_the_redirect_get_a_valid_feed(
    generated, client, old, kind, feed_path
):
    location, landed = landing(client, old)
    assert location == feed_path
    feed = feedparser.parse(landed.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version.startswith(kind)
    assert feed.entries, old


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        ("/?s=peru", "/search/?q=peru"),
        ("/?s=a+b&utm_source=x", "/search/?q=a+b"),
        ("/?cat=100", "/topics/world/"),
        ("/?category_name=peru", "/topics/peru/"),
        ("/?tag=mining", "/topics/mining/"),
        ("/?author=4", "/authors/ana-diaz/"),
        ("/?author=3&utm_medium=x", "/authors/reporter/"),
        ("/author/Ana Diaz/", "/authors/ana-diaz/"),
        ("/author/ana-diaz/", "/authors/ana-diaz/"),
        ("/2021/", "/archive/2021/"),
        ("/2021/06/", "/archive/2021/6/"),
        ("/2021/06/08/", "/archive/2021/6/8/"),
        ("/2021/06/08", "/archive/2021/6/8/"),
    ],
)
def test_query_forms_authors_and_dates_redirect_once_to_a_live_page(
    generated, client, old, expected
):
    location, _ = landing(client, old)
    assert location == expected


def test_a_day_archive_lists_that_day_and_nothing_else(generated, client):
    response = client.get("/archive/2021/6/2/")
    titles = [teaser.title for teaser in response.context["page"].items]
    expected = [
        a.title
        for a in Article.objects.published()
        if localtime(a.published_at).timetuple()[:3] == (2021, 6, 2)
    ]
    assert response.status_code == 200
    assert titles
    assert sorted(titles) == sorted(expected)
    for bad in ("/archive/2021/13/", "/archive/2021/2/30/", "/archive/99999/"):
        assert client.get(bad).status_code == 404, bad


def test_imported_pages_answer_and_unrelated_queries_stay_home(generated, client):
    response = client.get("/?page_id=141")
    assert response.status_code == 301
    assert response["Location"] == "/about/"
    assert client.get("/about/").context["page"].title == "About us"
    for home in ("/?utm_source=x", "/?fbclid=1", "/?x=1", "/"):
        response = client.get(home)
        assert response.status_code == 200, home
        assert response.context["page"].items, home


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.example",
        "//evil.example/",
        "/\\evil.example",
        "/\\\\evil.example/",
        "/?s=//evil.example",
        "/?s=http://evil.example/",
        "/?feed=http://evil.example/",
        "/?paged=//evil.example",
        "/http://evil.example/feed/",
        "/%2F%2Fevil.example/page/2/",
        "/?p=//evil.example",
        "//evil.example/2021/06/",
    ],
)
def test_no_redirect_leaves_the_site(generated, client, hostile):
    response = client.get(hostile)
    if response.status_code in (301, 302):
        location = response["Location"]
        assert location.startswith("/"), location
        assert not location.startswith("//"), location
        assert "\\" not in location
        assert "evil.example" not in location.split("?")[0]
    else:
        assert response.status_code in (200, 404, 410)


def test_old_addresses_keep_working_after_renames(
    generated, client, django_capture_on_commit_callbacks
):
    topic = Topic.objects.get(slug="mining")
    topic.slug = "mines"
    services.save_topic(topic)
    author = Author.objects.get(slug="reporter")
    author.slug = "the-reporter"
    services.save_author(author)
    article = Article.objects.get(title="Story 101")
    permalink = old_permalink(article)
    article.slug = "renamed-story"
    services.save_article(article)
    for old, new in [
        ("/tag/mining/", "/topics/mines/"),
        ("/topics/mining/", "/topics/mines/"),
        ("/topics/mining/feed/", "/topics/mines/feed/"),
        ("/tag/mining/feed/atom/", "/topics/mines/feed/atom/"),
        ("/author/reporter/", "/authors/the-reporter/"),
        ("/authors/reporter/", "/authors/the-reporter/"),
        ("/authors/reporter/feed/", "/authors/the-reporter/feed/"),
        (permalink, "/articles/renamed-story/"),
        ("/articles/story-101/", "/articles/renamed-story/"),
        ("/?p=101", "/articles/renamed-story/"),
    ]:
        assert landing(client, old)[0] == new, old
    assert landing(client, "/tag/mining/page/2/")[0].startswith("/topics/mines/?before=")
    # A rename back leaves no loop: the current address answers itself.
    topic.slug = "mining"
    with django_capture_on_commit_callbacks(execute=True):  # the page cache hears of it
        services.save_topic(topic)
    assert client.get("/topics/mining/").status_code == 200
    assert landing(client, "/topics/mines/")[0] == "/topics/mining/"


def test_two_imported_sites_keep_both_sets_and_a_clash_is_reported(tmp_path, client):
    first = generated_export(posts=12, site="https://one.example")
    import_export(tmp_path, first, name="one.xml")
    second = generated_export(posts=12, site="https://two.example/blog", first_id=500)
    # The second site's front page lives under /blog/; its /?p=1xx... ids differ; but its
    # categories' /?category_name= and a post permalink are the same as the first site's.
    second = second.replace(
        b"https://two.example/blog/2021/06/01/story-500/",
        b"https://two.example/2021/06/01/story-100/",
    )
    summary = import_export(tmp_path, second, name="two.xml")
    assert "old addresses already leading elsewhere, kept as they were:" in summary
    clash_line = summary.splitlines()[-1]
    assert "/2021/06/01/story-100/" in clash_line
    # The first site's address kept its article; both sites' own addresses resolve.
    assert landing(client, "/2021/06/01/story-100/")[0] == "/articles/story-100/"
    story = Article.objects.get(slug="story-502")
    assert landing(client, "/blog" + old_permalink(story))[0] == "/articles/story-502/"
    assert landing(client, "/?p=100")[0] == "/articles/story-100/"
    assert landing(client, "/blog/?p=500")[0] == "/articles/story-500/"
    assert landing(client, "/blog/tag/mining/")[0].startswith("/topics/mining")
    assert landing(client, "/blog/page/2/")[0].startswith("/?before=")
    assert landing(client, "/blog/feed/atom/")[0] == "/feed/atom/"
    # Importing the same site again is no clash.
    again = import_export(tmp_path, first, name="one-again.xml")
    assert "already leading elsewhere" not in again


def test_check_legacy_urls_exits_non_zero_naming_what_is_broken(generated):
    LegacyPath.objects.filter(path="/tag/mining/").delete()
    out = StringIO()
    with pytest.raises(CommandError, match="old addresses are broken"):
        call_command("check_legacy_urls", str(generated), stdout=out)
    assert "broken: /tag/mining/ (answers 404)" in out.getvalue()


def test_check_legacy_urls_refuses_a_bad_file_in_one_line(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("check_legacy_urls", str(tmp_path / "missing.xml"))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<rss><channel><title>x")
    with pytest.raises(CommandError, match=r"broken\.xml"):
        call_command("check_legacy_urls", str(broken))


def test_date_archives_and_kept_answers_follow_changes_through_the_page_cache(
    generated, django_capture_on_commit_callbacks
):
    reader = Client()
    june = [a for a in Article.objects.published() if localtime(a.published_at).month == 6]
    article = Article.objects.get(title=wordpress_order(june)[0])  # first on the June page
    for _ in range(2):
        page = reader.get("/archive/2021/6/")
        assert reader.get("/tag/mining/")["Location"] == "/topics/mining/"
    assert page["X-Page-Cache"] == "hit"
    article.title = "Corrected story"
    topic = Topic.objects.get(slug="mining")
    topic.slug = "mines"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article)
        services.save_topic(topic)
    assert "Corrected story" in reader.get("/archive/2021/6/").content.decode()
    assert reader.get("/tag/mining/")["Location"] == "/topics/mines/"


@pytest.mark.parametrize("odd", ["/?paged=²", "/?paged=¹", "/?p=²", "/?m=²⁰²¹"])
def test_digits_that_are_not_ascii_are_not_a_page_number(generated, client, odd):
    """`str.isdigit()` takes '²', which `int()` refuses: this was a 500."""
    assert client.get(odd).status_code in (200, 301, 404)


def test_an_article_renamed_and_back_then_unpublished_never_redirects_to_itself(
    generated, client, django_capture_on_commit_callbacks
):
    article = Article.objects.get(title="Story 110")
    permalink = old_permalink(article)
    with django_capture_on_commit_callbacks(execute=True):
        for slug in ("story-110-b", "story-110"):
            article.slug = slug
            services.save_article(article)
        services.unpublish_article(article)
    for old in ("/articles/story-110/", "/?p=110", permalink, "/articles/story-110-b/"):
        response = client.get(old)
        assert response.status_code == 404, (old, response.status_code, response.get("Location"))


def test_old_addresses_of_an_unpublished_article_answer_404_not_a_redirect_to_one(
    generated, client, django_capture_on_commit_callbacks
):
    article = Article.objects.get(title="Story 111")
    permalink = old_permalink(article)
    assert landing(client, "/?p=111")[0] == article.get_absolute_url()
    with django_capture_on_commit_callbacks(execute=True):  # the stored answers are forgotten
        services.unpublish_article(article)
    for old in ("/?p=111", permalink):
        assert client.get(old).status_code == 404, old
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_article(article)
    assert landing(client, "/?p=111")[0] == article.get_absolute_url()


def test_a_parent_category_archive_holds_its_sub_categories_posts_as_on_wordpress(
    generated, client
):
    """WordPress's /category/world/ lists the posts of /category/world/peru/ too; the import
    files them under both, so page N of the old archive lands where WordPress's page N began."""
    world, peru = Topic.objects.get(slug="world"), Topic.objects.get(slug="peru")
    in_peru = set(Article.objects.published().for_topic(peru))
    in_world = set(Article.objects.published().for_topic(world))
    assert in_peru
    assert in_peru <= in_world
    expected = wordpress_order(in_world)
    for page in (2, 3, 5):
        _, landed = landing(client, f"/category/world/page/{page}/")
        assert first_titles(landed) == [expected[4 * (page - 1)]], page


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        ("/?cat=100&feed=rss2", "/topics/world/feed/"),
        ("/?tag=mining&feed=atom", "/topics/mining/feed/atom/"),
        ("/?author=3&feed=rss2", "/authors/reporter/feed/"),
    ],
)
def test_query_form_feeds_land_on_the_topic_or_author_feed(generated, client, old, expected):
    location, landed = landing(client, old)
    assert location == expected
    parsed = feedparser.parse(landed.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.entries


def test_query_form_pages_keep_their_page_number(generated, client, settings):
    world = Topic.objects.get(slug="world")
    expected = wordpress_order(Article.objects.published().for_topic(world))
    _, landed = landing(client, "/?cat=100&paged=3")
    assert first_titles(landed) == [expected[8]]
    author = Author.objects.get(slug="reporter")
    by_author = wordpress_order(Article.objects.published().by_author(author))
    _, landed = landing(client, "/?author=3&paged=2")
    assert first_titles(landed) == [by_author[4]]
    settings.ARTICLES_PER_PAGE = 2
    # WordPress's search page 3 (4 a page) began with result 9: Pressroom's page 5 (2 a page).
    assert landing(client, "/?s=story&paged=3")[0] == "/search/?q=story&page=5"


@pytest.mark.parametrize(
    "old",
    ["/?p=99999", "/?page_id=99999999999999999999", "/?cat=-1", "/?tag=nothing", "/?paged=999"],
)
def test_a_query_naming_nothing_the_old_site_had_is_a_404_as_on_wordpress(generated, client, old):
    assert client.get(old).status_code == 404


@pytest.mark.parametrize("old", ["/1234/", "/1999/05/06/", "/1234/05/06/page/2/", "/?m=199905"])
def test_a_date_with_no_posts_is_a_404_and_is_not_stored(generated, client, old):
    response = client.get(old)
    assert response.status_code == 404
    assert response.get("X-Page-Cache") != "miss"  # nothing filed for made-up dates
    assert client.get(old).get("X-Page-Cache") != "hit"


def test_a_month_query_lands_on_the_month(generated, client):
    assert landing(client, "/?m=202106")[0] == "/archive/2021/6/"
    assert landing(client, "/?m=20210608")[0] == "/archive/2021/6/8/"


def test_a_blog_that_lived_in_a_folder_keeps_its_home_and_its_query_forms(tmp_path, client):
    import_export(tmp_path, generated_export(posts=12, site="https://old.example.org/blog"))
    rows = LegacyPath.objects.filter(path__startswith="/blog/")
    prefix = "/blog/blog/" if rows.filter(path__startswith="/blog/blog/").exists() else "/blog/"
    assert landing(client, prefix)[0] == "/"
    assert landing(client, prefix.rstrip("/"))[0] in ("/", prefix)
    assert landing(client, f"{prefix}?s=news")[0] == "/search/?q=news"
    story = Article.objects.get(title="Story 100")
    assert landing(client, f"{prefix}?p=100&utm_source=x")[0] == story.get_absolute_url()
    assert landing(client, f"{prefix}?feed=rss2")[0] == "/feed/"


def test_check_legacy_urls_reports_an_old_post_shadowed_by_a_pressroom_page(tmp_path):
    export = generated_export(posts=12).replace(
        b"https://old.example.org/2021/06/01/story-100/", b"https://old.example.org/donate/"
    )
    path = tmp_path / "shadowed.xml"
    path.write_bytes(export)
    call_command("import_wxr", str(path), stdout=StringIO())
    out = StringIO()
    with pytest.raises(CommandError, match="1 old address"):
        call_command("check_legacy_urls", str(path), stdout=out)
    assert "broken: /donate/ (shadowed: Pressroom answers this address" in out.getvalue()


def test_check_legacy_urls_reports_addresses_that_lead_to_another_sites_posts(tmp_path):
    """Two WordPress sites with the same addresses: the second import reports the clash, and
    checking the second site's export names every address that still leads to the first's."""
    first = tmp_path / "one.xml"
    first.write_bytes(generated_export(posts=6, site="https://one.example"))
    second = tmp_path / "two.xml"
    second.write_bytes(generated_export(posts=6, site="https://two.example"))
    call_command("import_wxr", str(first), stdout=StringIO())
    report = StringIO()
    call_command("import_wxr", str(second), stdout=report)
    assert "already leading elsewhere" in report.getvalue()
    out = StringIO()
    with pytest.raises(CommandError, match="old addresses are broken"):
        call_command("check_legacy_urls", str(second), stdout=out)
    table = out.getvalue()
    assert "broken: /?p=100 (leads to /articles/story-100/, not to this post's article" in table
    assert re.search(r"\npost +6 +0 +6\n", table), table
