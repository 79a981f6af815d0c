"""An editor moves a WordPress site's pages over: nested as they were, each old address (the
permalink and /?page_id=N) answering 301 to the page, and a second run duplicating nothing."""

from io import StringIO

import pytest
from django.core.management import call_command

from pressroom.importers.models import ImportedItem
from pressroom.importers.tests.wxr_samples import THEME_UNIT_TEST_DATA, small_export
from pressroom.publishing.models import LegacyPath, Page, Revision

pytestmark = pytest.mark.django_db

# From the file: (wp:post_id, slug, the parent's wp:post_id or None), for the nested ones.
NESTED = [
    ("2", "about", None),
    ("155", "page-with-comments", "2"),
    ("174", "level-1", None),
    ("173", "level-2", "174"),
    ("172", "level-3", "173"),
    ("1809", "greek", None),
    ("1811", "επίπεδο-2", "1809"),
    ("1813", "επίπεδο-3", "1811"),
]


def import_theme_data() -> str:
    out = StringIO()
    call_command("import_wxr", str(THEME_UNIT_TEST_DATA), stdout=out)
    return out.getvalue()


def imported_page(post_id: str) -> Page:
    return ImportedItem.objects.get(kind="page", external_id=post_id).page


def test_the_theme_unit_test_pages_come_across_with_their_parents():
    import_theme_data()
    assert Page.objects.count() == 21
    assert Page.objects.published().count() == 21
    for post_id, slug, parent_id in NESTED:
        page = imported_page(post_id)
        assert page.slug == slug
        if parent_id is None:
            assert page.parent is None
        else:
            assert page.parent == imported_page(parent_id)
    assert imported_page("172").path == "level-1/level-2/level-3"
    assert imported_page("1813").path == "greek/επίπεδο-2/επίπεδο-3"
    about = imported_page("2")
    assert about.title == "About The Tests"
    assert about.published_at.isoformat().startswith("2010-")
    # Each page has its revision 1, so its first edit can be compared with the import.
    assert Revision.objects.of(about).count() == 1


@pytest.mark.parametrize(
    ("old", "post_id"),
    [
        ("/?page_id=2", "2"),
        ("/?page_id=172", "172"),
        ("/?page_id=1813", "1813"),
        ("/about/page-with-comments/", "155"),
        ("/level-1/level-2/level-3/", "172"),
    ],
)
def test_old_page_addresses_lead_to_the_imported_page(client, old, post_id):
    import_theme_data()
    page = imported_page(post_id)
    response = client.get(old)
    if old.startswith("/?"):
        assert response.status_code == 301
        assert response["Location"] == page.get_absolute_url()
        response = client.get(response["Location"])
    # The permalinks are the pages' own addresses here: they answer at once.
    assert response.status_code == 200
    assert response.context["page"] == page
    assert page.title.encode() in response.content or page.title in response.text


def test_a_page_at_another_path_is_reached_by_a_301_from_its_permalink(client):
    import_theme_data()
    page = imported_page("746")  # /level-1/level-2/level-3a/
    page.slug = "third-a"
    from pressroom.publishing import services

    services.save_page(page)
    response = client.get("/level-1/level-2/level-3a/")
    assert response.status_code == 301
    assert response["Location"] == "/level-1/level-2/third-a/"
    assert client.get(response["Location"]).status_code == 200


def test_running_the_import_again_duplicates_nothing():
    import_theme_data()
    counts = (Page.objects.count(), LegacyPath.objects.count(), Revision.objects.count())
    second = import_theme_data()
    assert (Page.objects.count(), LegacyPath.objects.count(), Revision.objects.count()) == counts
    assert (
        "pages    created 0, updated 0, skipped 21 (unchanged since the last import: 21)" in second
    )
    assert ImportedItem.objects.filter(kind="page").count() == 21


def test_statuses_come_across_and_a_changed_page_is_updated(tmp_path):
    def export(title: str) -> bytes:
        return small_export(
            "".join(
                [
                    page_item("301", "policy", title, status="publish"),
                    page_item("302", "draft-notes", "Notes", status="draft"),
                    page_item("303", "secret", "Secret", status="private"),
                    page_item("304", "child", "Child", status="publish", parent="301"),
                ]
            )
        )

    path = tmp_path / "pages.xml"
    path.write_bytes(export("Republishing policy"))
    call_command("import_wxr", str(path), stdout=StringIO())
    assert set(Page.objects.values_list("path", "status")) == {
        ("policy", "published"),
        ("draft-notes", "draft"),
        ("policy/child", "published"),
    }
    path.write_bytes(export("Our republishing policy"))
    out = StringIO()
    call_command("import_wxr", str(path), stdout=out)
    assert "pages    created 0, updated 1, skipped 3" in out.getvalue()
    assert Page.objects.get(path="policy").title == "Our republishing policy"
    assert Page.objects.count() == 3


def page_item(post_id: str, slug: str, title: str, *, status: str, parent: str = "0") -> str:
    return f"""<item>
<title>{title}</title>
<link>https://old.example.org/{slug}/</link>
<content:encoded><![CDATA[<p>{title} text.</p>]]></content:encoded>
<excerpt:encoded><![CDATA[]]></excerpt:encoded>
<wp:post_id>{post_id}</wp:post_id>
<wp:post_date>2020-01-02 10:00:00</wp:post_date>
<wp:post_date_gmt>2020-01-02 10:00:00</wp:post_date_gmt>
<wp:post_name>{slug}</wp:post_name>
<wp:status>{status}</wp:status>
<wp:post_parent>{parent}</wp:post_parent>
<wp:post_type>page</wp:post_type>
</item>"""
