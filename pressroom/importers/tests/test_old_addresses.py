"""Old addresses from an imported <link>: a query string on it never makes the front page
redirect, and tracking parameters do not become part of the old address."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from pressroom.importers.legacy import old_path
from pressroom.importers.tests.wxr_samples import post_item, small_export
from pressroom.publishing.models import Article, LegacyPath

pytestmark = pytest.mark.django_db


def import_with_link(tmp_path: Path, link: str) -> Article:
    item = post_item(12, "Miners march", post_name="miners-march").replace(
        "<link>https://old.example.org/news/2020/03/04/miners-march/</link>", f"<link>{link}</link>"
    )
    export = tmp_path / "old.xml"
    export.write_bytes(small_export(item))
    call_command("import_wxr", str(export), stdout=StringIO())
    return Article.objects.get(slug="miners-march")


@pytest.mark.parametrize(
    "link",
    [
        "https://old.example.org/?p=12",
        "https://old.example.org/news/?p=12",
        "https://old.example.org/some-post/?utm=x",
        "https://old.example.org/?utm_source=newsletter",
        "https://old.example.org/#comments",
        "https://old.example.org",
        "https://old.example.org/news/",
        "https://old.example.org/news/?fbclid=abc",
    ],
)
def test_a_query_string_on_an_imported_link_never_makes_the_front_page_redirect(
    tmp_path, client, link
):
    import_with_link(tmp_path, link)
    assert not LegacyPath.objects.filter(path="/").exists()
    for front_page in ("/", "/?utm=x", "/?utm_source=newsletter", "/?fbclid=abc", "/?x=1"):
        assert client.get(front_page).status_code == 200, front_page


def test_the_old_address_of_a_post_keeps_redirecting_without_its_tracking_parameters(
    tmp_path, client
):
    article = import_with_link(tmp_path, "https://old.example.org/some-post/?utm=x&amp;p=3")
    response = client.get("/some-post/?p=3")
    assert (response.status_code, response["Location"]) == (301, article.get_absolute_url())
    article = import_with_link(tmp_path, "https://old.example.org/other-post/?utm_medium=x")
    response = client.get("/other-post/")
    assert (response.status_code, response["Location"]) == (301, article.get_absolute_url())


def test_a_plain_permalink_query_still_leads_to_its_post(tmp_path, client):
    article = import_with_link(tmp_path, "https://old.example.org/?p=12")
    response = client.get("/?p=12")
    assert (response.status_code, response["Location"]) == (301, article.get_absolute_url())


def test_a_front_page_address_stored_by_an_earlier_version_is_ignored(client, make_article):
    # Imports before this fix stored '/' for a link like https://old.example.org/#comments.
    LegacyPath.objects.create(path="/", article=make_article())
    assert client.get("/?utm_source=newsletter").status_code == 200


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://old.example.org/2020/03/story/", "/2020/03/story/"),
        ("https://old.example.org/story/?utm_source=x&utm_medium=y", "/story/"),
        ("https://old.example.org/?p=12&utm_source=x", "/?p=12"),
        ("https://old.example.org/index.php?p=12", "/index.php?p=12"),
        ("https://old.example.org/?gclid=1", ""),
        ("https://old.example.org/blog/", ""),
        ("", ""),
    ],
)
def test_old_paths_keep_what_names_a_post_and_drop_the_rest(link, expected):
    assert old_path(link, "/blog" if "/blog" in link else "") == expected
