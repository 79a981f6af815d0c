"""Reading a WordPress export: no database, just the file."""

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pressroom.importers.tests.wxr_samples import THEME_UNIT_TEST_DATA, post_item, small_export
from pressroom.importers.wxr import (
    Record,
    WxrAuthor,
    WxrChannel,
    WxrError,
    WxrItem,
    WxrTerm,
    parse_wxr,
)


def parse_wxr_bytes(data: bytes) -> list[Record]:
    """All records of an export held in memory."""
    return list(parse_wxr(io.BytesIO(data)))


@pytest.fixture(scope="module")
def theme_records():
    with THEME_UNIT_TEST_DATA.open("rb") as source:
        return list(parse_wxr(source))


def test_the_theme_unit_test_export_reads_completely(theme_records):
    channel = theme_records[0]
    assert isinstance(channel, WxrChannel)
    assert channel.wxr_version == "1.2"
    assert channel.source_site == "https://wpthemetestdata.wordpress.com"
    items = [r for r in theme_records if isinstance(r, WxrItem)]
    terms = [r for r in theme_records if isinstance(r, WxrTerm)]
    authors = [r for r in theme_records if isinstance(r, WxrAuthor)]
    # Counted from the file: 186 <item>, 68 <wp:category>, 110 <wp:tag>, 2 <wp:author>.
    assert len(items) == 186
    assert sum(term.taxonomy == "category" for term in terms) == 68
    assert sum(term.taxonomy == "tag" for term in terms) == 110
    assert [(a.login, a.display_name) for a in authors] == [
        ("themedemos", "Theme Buster"),
        ("themereviewteam", "Theme Reviewer"),
    ]
    by_type: dict[str, int] = {}
    for item in items:
        by_type[item.post_type] = by_type.get(item.post_type, 0) + 1
    assert by_type == {"post": 58, "page": 21, "attachment": 37, "nav_menu_item": 70}


def test_a_nested_category_names_its_parent(theme_records):
    grandchild = next(
        r for r in theme_records if isinstance(r, WxrTerm) and r.slug == "grandchild-category"
    )
    assert (grandchild.taxonomy, grandchild.name, grandchild.parent_slug) == (
        "category",
        "Grandchild Category",
        "child-category-03",
    )


def test_an_item_carries_its_fields_terms_and_dates(theme_records):
    item = next(r for r in theme_records if isinstance(r, WxrItem) and r.post_id == "1178")
    assert item.title == "Markup: HTML Tags and Formatting"
    assert item.post_type == "post"
    assert item.status == "publish"
    assert item.creator == "themedemos"
    assert item.link.endswith("/2013/01/11/markup-html-tags-and-formatting/")
    assert item.content.startswith("<strong>Headings</strong>")
    assert ("category", "markup") in {(ref.taxonomy, ref.slug) for ref in item.terms}
    assert item.date(UTC) == datetime(2013, 1, 12, 3, 22, 19, tzinfo=UTC)


def test_special_characters_in_a_title_survive_xml_decoding(theme_records):
    item = next(r for r in theme_records if isinstance(r, WxrItem) and r.post_id == "1174")
    assert item.title == "Markup: Title With Special Characters ~`!@#$%^&*()-_=+{}[]/\\;:'\"?,.>"


def test_a_missing_gmt_date_falls_back_to_the_local_date_in_the_sites_timezone():
    records = parse_wxr_bytes(
        small_export(post_item(7, date="2020-03-04 10:00:00", date_gmt="0000-00-00 00:00:00"))
    )
    item = records[-1]
    lima = ZoneInfo("America/Lima")
    assert item.date(lima) == datetime(2020, 3, 4, 10, 0, tzinfo=lima)
    assert item.date(lima).astimezone(UTC).hour == 15


def test_a_post_with_no_date_at_all_has_none():
    item = parse_wxr_bytes(
        small_export(post_item(7, date="0000-00-00 00:00:00", date_gmt="0000-00-00 00:00:00"))
    )[-1]
    assert item.date(UTC) is None


def test_wxr_1_0_namespaces_and_tag_domain_are_understood():
    extra = '<category domain="tag" nicename="strikes"><![CDATA[Strikes]]></category>'
    records = parse_wxr_bytes(small_export(post_item(3, extra=extra), version="1.0"))
    channel, item = records
    assert channel.wxr_version == "1.0"
    assert channel.path_prefix == "/news"
    assert item.creator == "reporter"
    assert [(ref.taxonomy, ref.slug, ref.name) for ref in item.terms] == [
        ("tag", "strikes", "Strikes")
    ]


def test_percent_encoded_slugs_are_decoded():
    item = parse_wxr_bytes(small_export(post_item(9, post_name="%ce%b5%cf%80%ce%af")))[-1]
    assert item.slug == "επί"


def test_a_truncated_file_names_the_line_where_it_broke():
    data = THEME_UNIT_TEST_DATA.read_bytes()
    cut = data[: data.index(b"<title>Markup: HTML Tags and Formatting</title>") + 20]
    with pytest.raises(WxrError) as caught:
        parse_wxr_bytes(cut)
    assert caught.value.line == cut.count(b"\n") + 1
    assert f"line {caught.value.line}" in str(caught.value)


def test_a_mismatched_tag_names_its_line_and_the_entries_before_it_are_complete():
    data = small_export(post_item(1) + post_item(2).replace("</title>", "</titel>"))
    broken_line = data.decode().splitlines().index("  <title>A post</titel>") + 1
    records = []
    stream = parse_wxr(io.BytesIO(data))
    with pytest.raises(WxrError) as caught:
        records.extend(stream)
    assert caught.value.line == broken_line
    assert [r.post_id for r in records if isinstance(r, WxrItem)] == ["1"]


def test_an_rss_feed_that_is_not_a_wordpress_export_is_refused():
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>'
    feed += b"<item><title>x</title></item></channel></rss>"
    with pytest.raises(WxrError, match="not a WordPress export"):
        parse_wxr_bytes(feed)


def test_an_html_page_is_refused_at_line_one():
    with pytest.raises(WxrError, match="line 1"):
        parse_wxr_bytes(b"<html><body>Not an export</body></html>")


def test_control_characters_pasted_into_a_post_do_not_stop_the_import():
    data = small_export(post_item(4, "Vertical\x0btab", "Pasted\x0b from\x1f Word\n\nsecond"))
    item = parse_wxr_bytes(data)[-1]
    assert item.title == "Verticaltab"
    assert item.content == "Pasted from Word\n\nsecond"


def test_featured_images_and_attachment_urls_are_read(theme_records):
    items = {r.post_id: r for r in theme_records if isinstance(r, WxrItem)}
    assert items["1011"].thumbnail_id == "1022"
    attachment = items["1022"]
    assert attachment.post_type == "attachment"
    assert attachment.attachment_url == (
        "https://wpthemetestdata.files.wordpress.com/2013/03/featured-image-horizontal.jpg"
    )
    assert attachment.image_alt == "Horizontal Featured Image"
