"""An editor moves a WordPress site over with `pressroom import_wxr`: nothing lost, links kept."""

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pressroom.importers.models import ImportedItem
from pressroom.importers.tests.wxr_samples import THEME_UNIT_TEST_DATA, post_item, small_export
from pressroom.publishing import services
from pressroom.publishing.models import (
    Article,
    ArticleAuthor,
    ArticleTopic,
    Author,
    LegacyPath,
    Topic,
)

pytestmark = pytest.mark.django_db


def import_wxr(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_wxr", str(path), *args, stdout=out)
    return out.getvalue()


def summary_line(output: str, kind: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(kind))


@pytest.fixture
def theme_import() -> str:
    return import_wxr(THEME_UNIT_TEST_DATA)


def test_the_theme_unit_test_data_comes_across_with_its_real_counts(theme_import):
    # Counted from the file: 58 posts = 55 published (one of them password-protected),
    # 1 draft, 1 scheduled; 21 pages; 37 attachments; 70 menu items; 2 authors;
    # 68 categories and 110 tags declared, 4 more tags used by posts only, and one tag
    # ("post-formats") sharing its slug with a category.
    assert summary_line(theme_import, "posts") == (
        "posts    created 57, updated 0, skipped 1 (password-protected: 1), failed 0"
    )
    assert summary_line(theme_import, "pages").startswith("pages    created 21, updated 0")
    assert "skipped 37 (media stay at their original URLs: 37)" in summary_line(
        theme_import, "media"
    )
    assert "skipped 70 (nav_menu_item entries are not imported: 70)" in theme_import
    assert "authors  created 2, updated 0, skipped 0" in theme_import
    assert "topics   created 181, updated 0, skipped 1" in theme_import
    assert Article.objects.count() == 57
    assert Article.objects.filter(status="published").count() == 55
    assert Article.objects.filter(status="draft").count() == 1
    assert Article.objects.filter(status="scheduled").count() == 1
    assert Topic.objects.count() == 181
    assert sorted(Author.objects.values_list("name", flat=True)) == [
        "Theme Buster",
        "Theme Reviewer",
    ]


def test_nested_categories_keep_their_parents(theme_import):
    grandchild = Topic.objects.get(name="Grandchild Category")
    assert grandchild.parent.name == "Child Category 03"
    assert grandchild.parent.parent.name == "Parent Category"
    assert Topic.objects.get(name="Child 2").parent.name == "Child 1"


def test_a_markup_heavy_post_keeps_its_structure_and_loses_nothing_unsafe(theme_import):
    article = Article.objects.get(title="Markup: HTML Tags and Formatting")
    assert article.slug == "markup-html-tags-and-formatting"
    assert article.body.startswith("<p><strong>Headings</strong></p>\n<h1>Header one</h1>")
    assert "<blockquote><p>Stay hungry. Stay foolish.</p></blockquote>" in article.body
    assert "<table>" in article.body or "<dl>" in article.body
    assert "<script" not in article.body
    assert article.published_at == datetime(2013, 1, 12, 3, 22, 19, tzinfo=UTC)
    assert article.excerpt == "Headings"


def test_block_editor_posts_lose_their_block_comments_only(theme_import):
    article = Article.objects.get(title="Block: Columns")
    assert "wp:" not in article.body
    assert "<p>Paragraph 2 is in the middle.</p>" in article.body


def test_captions_become_figures_linking_media_at_their_original_urls(theme_import):
    body = Article.objects.get(title="Post Format: Image (Caption)").body
    assert "<figure>" in body
    assert "<figcaption>Bell on wharf in San Francisco</figcaption>" in body
    assert 'src="https://wpthemetestdata.files.wordpress.com/2008/06/100_5478.jpg?w=604"' in body
    assert "[caption" not in body


def test_special_characters_and_markup_in_titles(theme_import):
    assert Article.objects.filter(
        title="Markup: Title With Special Characters ~`!@#$%^&*()-_=+{}[]/\\;:'\"?,.>",
        slug="title-with-special-characters",
    ).exists()
    assert Article.objects.filter(title="Markup: Title With Markup").exists()


def test_a_post_without_a_title_is_named_after_its_first_words(theme_import):
    article = Article.objects.get(slug="edge-case-no-title")
    assert article.title == "This post has no title, but it still…"
    assert article.status == "published"


def test_future_posts_are_scheduled_drafts_stay_drafts_and_protected_posts_stay_out(
    theme_import,
):
    scheduled = Article.objects.get(slug="scheduled")
    assert scheduled.published_at == datetime(2030, 1, 1, 19, 0, 18, tzinfo=UTC)
    # The sample's "future" post is dated 2030: scheduled until then, published after.
    assert scheduled.status == (
        "scheduled" if scheduled.published_at > timezone.now() else "published"
    )
    draft = Article.objects.get(title="Draft")
    assert (draft.status, draft.published_at, draft.slug) == ("draft", None, "draft")
    assert not Article.objects.filter(title__startswith="Template: Password Protected").exists()


def test_listing_links_carry_the_public_order_exactly_as_the_services_set_it(theme_import):
    before = set(ArticleTopic.objects.values_list("article", "topic", "is_public", "published_at"))
    before_authors = set(
        ArticleAuthor.objects.values_list("article", "author", "is_public", "published_at")
    )
    for article in Article.objects.all():
        services.sync_listing_links(article)
    assert (
        set(ArticleTopic.objects.values_list("article", "topic", "is_public", "published_at"))
        == before
    )
    assert (
        set(ArticleAuthor.objects.values_list("article", "author", "is_public", "published_at"))
        == before_authors
    )
    draft_links = ArticleTopic.objects.filter(article__title="Draft")
    assert draft_links.exists()
    assert not draft_links.filter(is_public=True).exists()


def test_old_post_addresses_redirect_permanently_to_the_new_article(theme_import, client):
    article = Article.objects.get(title="Markup: HTML Tags and Formatting")
    for old in ("/?p=1178", "/2013/01/11/markup-html-tags-and-formatting/"):
        response = client.get(old)
        assert response.status_code == 301, old
        assert response["Location"] == article.get_absolute_url()
    assert client.get(article.get_absolute_url()).status_code == 200
    draft = Article.objects.get(title="Draft")
    assert LegacyPath.objects.get(path="/?p=1164").article == draft


def test_old_tag_and_category_archives_redirect_to_the_topic(theme_import, client):
    grandchild = Topic.objects.get(name="Grandchild Category")
    for old in (
        "/category/parent-category/child-category-03/grandchild-category/",
        "/category/grandchild-category/",
    ):
        response = client.get(old)
        assert (response.status_code, response["Location"]) == (301, grandchild.get_absolute_url())
    formats = Topic.objects.get(name="Post Formats")
    response = client.get("/tag/post-formats/")
    assert (response.status_code, response["Location"]) == (301, formats.get_absolute_url())
    assert client.get(formats.get_absolute_url()).status_code == 200


def test_running_the_same_file_again_creates_nothing_new(theme_import):
    counts = [
        model.objects.count()
        for model in (Article, Topic, Author, LegacyPath, ArticleTopic, ImportedItem)
    ]
    ids = set(Article.objects.values_list("id", "slug"))
    output = import_wxr(THEME_UNIT_TEST_DATA)
    assert "posts    created 0, updated 0, skipped 58" in output
    assert "authors  created 0, updated 0" in output
    assert "topics   created 0, updated 0" in output
    assert counts == [
        model.objects.count()
        for model in (Article, Topic, Author, LegacyPath, ArticleTopic, ImportedItem)
    ]
    assert set(Article.objects.values_list("id", "slug")) == ids


def test_a_changed_post_is_updated_in_place(theme_import, tmp_path):
    article = Article.objects.get(title="Markup: HTML Tags and Formatting")
    changed = tmp_path / "changed.xml"
    changed.write_bytes(
        THEME_UNIT_TEST_DATA.read_bytes().replace(
            b"<title>Markup: HTML Tags and Formatting</title>",
            b"<title>Markup: HTML Tags, Formatting and More</title>",
        )
    )
    output = import_wxr(changed)
    assert "posts    created 0, updated 1, skipped 57" in output
    article.refresh_from_db()
    assert article.title == "Markup: HTML Tags, Formatting and More"
    assert article.slug == "markup-html-tags-and-formatting"
    assert Article.objects.count() == 57


def test_a_dry_run_counts_everything_and_writes_nothing():
    output = import_wxr(THEME_UNIT_TEST_DATA, "--dry-run")
    assert output.startswith("Dry run, nothing was saved")
    assert "posts    created 57" in output
    for model in (Article, Topic, Author, LegacyPath, ArticleTopic, ImportedItem):
        assert model.objects.count() == 0, model


def test_a_broken_file_stops_with_the_line_keeps_earlier_batches_and_a_rerun_continues(
    tmp_path,
):
    data = THEME_UNIT_TEST_DATA.read_bytes()
    marker = b"<title>Markup: HTML Tags and Formatting</title>"
    broken_line = data[: data.index(marker)].count(b"\n") + 1
    broken = tmp_path / "broken.xml"
    broken.write_bytes(data.replace(marker, b"<title>Markup: HTML Tags and Formatting</titel>"))
    with pytest.raises(CommandError) as caught:
        import_wxr(broken, "--batch-size", "10")
    message = str(caught.value)
    assert f"line {broken_line}," in message
    assert "\n" not in message
    # Posts that come before the broken one in the file were committed; it and later ones not.
    kept = Article.objects.count()
    assert 10 <= kept < 57
    assert Article.objects.filter(title="Markup: Title With Markup").exists()
    assert not Article.objects.filter(title__startswith="Markup: HTML Tags").exists()

    output = import_wxr(THEME_UNIT_TEST_DATA)
    assert f"posts    created {57 - kept}, updated 0, skipped {1 + kept}" in output
    assert Article.objects.count() == 57


def test_a_missing_file_is_one_clear_line(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        import_wxr(tmp_path / "nope.xml")


def test_local_dates_use_the_given_site_timezone_and_unknown_authors_are_created(tmp_path):
    export = tmp_path / "old.xml"
    export.write_bytes(
        small_export(
            post_item(
                5,
                "Strike in the port",
                date="2020-03-04 10:00:00",
                date_gmt="0000-00-00 00:00:00",
                creator="stringer",
                post_name="strike-in-the-port",
                extra='<category domain="tag" nicename="ports">Ports</category>',
            ),
            version="1.0",
        )
    )
    import_wxr(export, "--timezone", "America/Lima")
    article = Article.objects.get(slug="strike-in-the-port")
    assert article.published_at == datetime(2020, 3, 4, 15, 0, tzinfo=UTC)
    assert [author.name for author in article.authors.all()] == ["stringer"]
    assert [topic.name for topic in article.topics.all()] == ["Ports"]
    assert LegacyPath.objects.get(path="/news/?p=5").article == article
    assert LegacyPath.objects.get(path="/news/tag/ports/").topic.name == "Ports"


def test_an_unknown_timezone_is_refused_before_anything_is_read(tmp_path):
    with pytest.raises(CommandError, match="Unknown timezone"):
        import_wxr(THEME_UNIT_TEST_DATA, "--timezone", "Mars/Olympus")
    assert not Article.objects.exists()


def test_imported_slugs_never_collide_with_existing_articles(make_article, tmp_path):
    existing = make_article(title="Strike in the port")
    export = tmp_path / "old.xml"
    export.write_bytes(
        small_export(
            post_item(5, "Strike", post_name="strike-in-the-port")
            + post_item(6, "Strike again", post_name="strike-in-the-port")
        )
    )
    import_wxr(export)
    slugs = set(Article.objects.exclude(pk=existing.pk).values_list("slug", flat=True))
    assert existing.slug == "strike-in-the-port"
    assert slugs == {"strike-in-the-port-2", "strike-in-the-port-3"}
    assert timezone.now() > Article.objects.get(slug="strike-in-the-port-2").published_at


def test_a_post_made_private_on_wordpress_is_unpublished_on_the_next_import(tmp_path):
    export = tmp_path / "old.xml"
    export.write_bytes(small_export(post_item(8, "Port strike ends", post_name="port-strike")))
    import_wxr(export)
    assert Article.objects.get(slug="port-strike").status == "published"
    export.write_bytes(
        small_export(post_item(8, "Port strike ends", post_name="port-strike", status="private"))
    )
    output = import_wxr(export)
    assert "private; its earlier import was unpublished: 1" in output
    assert Article.objects.get(slug="port-strike").status == "draft"
    export.write_bytes(small_export(post_item(8, "Port strike ends", post_name="port-strike")))
    assert "posts    created 0, updated 1" in import_wxr(export)
    assert Article.objects.get(slug="port-strike").status == "published"


def test_a_permalink_with_non_latin_letters_redirects(tmp_path, client):
    export = tmp_path / "old.xml"
    export.write_bytes(small_export(post_item(9, "Ελληνικά", post_name="%ce%b5%cf%80%ce%af")))
    import_wxr(export)
    article = Article.objects.get(slug="επί")
    response = client.get("/news/2020/03/04/%ce%b5%cf%80%ce%af/")
    assert (response.status_code, response["Location"]) == (301, article.get_absolute_url())


def test_the_progress_bar_goes_to_stderr_when_asked(tmp_path):
    out, err = StringIO(), StringIO()
    call_command("import_wxr", str(THEME_UNIT_TEST_DATA), "--progress", stdout=out, stderr=err)
    assert "100%" in err.getvalue()
    assert "entries" in err.getvalue()
    assert "%" not in out.getvalue().split("\n")[0]


def test_without_a_terminal_or_the_flag_there_is_no_progress_bar():
    err = StringIO()
    call_command("import_wxr", str(THEME_UNIT_TEST_DATA), stdout=StringIO(), stderr=err)
    assert err.getvalue() == ""


def test_a_truncated_download_stops_at_its_last_line_and_keeps_what_came_before(tmp_path):
    data = THEME_UNIT_TEST_DATA.read_bytes()
    truncated = data[: data.index(b"<title>Markup: Title With Special Characters") - 2]
    partial = tmp_path / "partial.xml"
    partial.write_bytes(truncated)
    with pytest.raises(CommandError) as caught:
        import_wxr(partial, "--batch-size", "10")
    assert f"line {truncated.count(b'\n') + 1}," in str(caught.value)
    assert "entries before it were saved" in str(caught.value)
    assert Article.objects.filter(title="Edge Case: No Content").exists()
    assert not Article.objects.filter(slug="title-with-special-characters").exists()


def test_a_file_that_is_not_a_wordpress_export_is_refused_in_one_line(tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Partner feed</title>'
        b"<item><title>Story</title></item></channel></rss>"
    )
    with pytest.raises(CommandError) as caught:
        import_wxr(feed)
    assert "not a WordPress export" in str(caught.value)
    assert "nothing was imported" in str(caught.value)
    assert not Article.objects.exists()


def test_featured_images_become_lead_images_at_their_original_urls(theme_import):
    horizontal = Article.objects.get(title="Template: Featured Image (Horizontal)")
    assert horizontal.lead_image_url == (
        "https://wpthemetestdata.files.wordpress.com/2013/03/featured-image-horizontal.jpg"
    )
    assert horizontal.lead_image_alt == "Horizontal Featured Image"
    late = Article.objects.get(title="WP 6.1 Theme block category")
    assert late.lead_image_url == (
        "https://wpthemetestdata.files.wordpress.com/2008/06/dsc20050102_192118_51.jpg"
    )
    assert late.lead_image_alt == "Wind Farm"
    assert Article.objects.exclude(lead_image_url="").count() == 6


def test_an_editor_can_look_up_what_came_from_wordpress_but_not_edit_it(
    theme_import, editor_client
):
    response = editor_client.get("/admin/importers/importeditem/?q=1178")
    assert response.status_code == 200
    assert "Markup: HTML Tags and Formatting" in response.text
    record = ImportedItem.objects.get(kind="post", external_id="1178")
    assert (
        editor_client.get(f"/admin/importers/importeditem/{record.pk}/delete/").status_code == 403
    )


def test_galleries_show_their_images_at_the_original_urls(theme_import):
    tiled = Article.objects.get(title="Post Format: Gallery (Tiled)").body
    assert tiled.index("2008/06/100_5540.jpg") < tiled.index("2008/06/dcp_2082.jpg")
    assert "[gallery" not in tiled
    # [gallery] without ids means every image attached to the post.
    gallery = Article.objects.get(title="Post Format: Gallery").body
    assert '<img src="https://wpthemetestdata.files.wordpress.com/2008/06/canola2.jpg"' in gallery
    assert not Article.objects.filter(body__contains="wp-gallery").exists()


def test_a_gallery_whose_images_come_later_in_the_file_is_completed_at_the_end(tmp_path):
    attachment = """<item><title>Photo</title><wp:post_id>{id}</wp:post_id>
      <wp:post_parent>5</wp:post_parent><wp:status>inherit</wp:status>
      <wp:post_type>attachment</wp:post_type>
      <wp:attachment_url>https://old.example.org/uploads/{id}.jpg</wp:attachment_url>
      <wp:postmeta><wp:meta_key>_wp_attachment_image_alt</wp:meta_key>
      <wp:meta_value>Photo {id}</wp:meta_value></wp:postmeta></item>"""
    export = tmp_path / "old.xml"
    export.write_bytes(
        small_export(
            post_item(5, "March", 'Before\n\n[gallery ids="12,11"]\n\nAfter', post_name="march")
            + attachment.format(id=11)
            + attachment.format(id=12)
        )
    )
    # One post per batch: the post is written before its images are read.
    import_wxr(export, "--batch-size", "1")
    body = Article.objects.get(slug="march").body
    assert body.replace("\n", "") == (
        "<p>Before</p>"
        '<figure><img src="https://old.example.org/uploads/12.jpg" alt="Photo 12"></figure>'
        '<figure><img src="https://old.example.org/uploads/11.jpg" alt="Photo 11"></figure>'
        "<p>After</p>"
    )


def test_a_featured_image_read_after_its_post_was_written_still_becomes_the_lead_image(tmp_path):
    thumbnail = (
        "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
        "<wp:meta_value>31</wp:meta_value></wp:postmeta>"
    )
    attachment = """<item><title>Photo</title><wp:post_id>31</wp:post_id>
      <wp:post_parent>6</wp:post_parent><wp:status>inherit</wp:status>
      <wp:post_type>attachment</wp:post_type>
      <wp:attachment_url>https://old.example.org/uploads/port.jpg</wp:attachment_url>
      <wp:postmeta><wp:meta_key>_wp_attachment_image_alt</wp:meta_key>
      <wp:meta_value>Cranes in the port</wp:meta_value></wp:postmeta></item>"""
    export = tmp_path / "old.xml"
    export.write_bytes(
        small_export(post_item(6, "Port", post_name="port", extra=thumbnail) + attachment)
    )
    import_wxr(export, "--batch-size", "1")
    article = Article.objects.get(slug="port")
    assert (article.lead_image_url, article.lead_image_alt) == (
        "https://old.example.org/uploads/port.jpg",
        "Cranes in the port",
    )
