"""The editor persona in the media library's admin: several uploads at once, clear errors per
file, thumbnails, search and filters, focal point, where used, deletion refused while used,
and an article that cannot be published with undescribed images."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pressroom.media import services
from pressroom.media.models import MediaItem
from pressroom.media.tests.conftest import run_worker
from pressroom.media.tests.images import jpeg_with_gps, png_bytes
from pressroom.publishing import services as publishing_services
from pressroom.publishing.models import Article
from pressroom.publishing.tests.test_admin import ADD_URL, article_form

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/media/mediaitem/"
ADD = "/admin/media/mediaitem/add/"


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_editor_uploads_several_files_at_once(editor_client):
    page = editor_client.get(ADD)
    assert page.status_code == 200
    assert b"media/upload." in page.content
    assert b"data-drop-zone" in page.content
    assert b"<script>" not in page.content  # no inline script: the CSP allows static files only
    response = editor_client.post(
        ADD,
        {
            "uploads": [
                upload("one.jpg", jpeg_with_gps(640, 480, seed=1)),
                upload("two.png", png_bytes(seed=2), "image/png"),
                upload("report.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "application/pdf"),
            ]
        },
    )
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    assert sorted(MediaItem.objects.values_list("original_name", flat=True)) == [
        "one.jpg",
        "report.pdf",
        "two.png",
    ]
    assert MediaItem.objects.get(original_name="one.jpg").created_by.username == "edna"


def test_bad_files_get_an_error_each_and_good_ones_are_still_added(editor_client, settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 200_000
    response = editor_client.post(
        ADD,
        {
            "uploads": [
                upload("good.jpg", jpeg_with_gps(400, 300)),
                upload(
                    "drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"
                ),
                upload("notes.jpg", b"these are notes, not a photo"),
                upload("huge.jpg", b"\xff\xd8" + b"\0" * 300_000),
                upload("../../../etc/cut.jpg", jpeg_with_gps(400, 300, seed=3)[:2000]),
            ]
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "drawing.svg: SVG files are not accepted" in text
    assert "notes.jpg: This is not an image" in text
    assert "“huge.jpg” is 293 KB; the limit is 195 KB." in text
    assert "cut.jpg: The image is damaged or incomplete" in text
    assert list(MediaItem.objects.values_list("original_name", flat=True)) == ["good.jpg"]


def test_the_upload_page_script_sends_one_file_per_request_and_reads_a_json_answer(
    editor_client,
):
    """upload.js posts each file alone asking for JSON, so each request stays under the proxy's
    body size and timeout; a bad file's answer names it, and nothing of it is stored."""
    photo = jpeg_with_gps(640, 480, seed=1)
    answers = [
        editor_client.post(ADD, {"uploads": [file]}, headers={"Accept": "application/json"})
        for file in (
            upload("one.jpg", photo),
            upload("notes.jpg", b"these are notes, not a photo"),
            upload("again.jpg", photo),
        )
    ]
    assert [answer.status_code for answer in answers] == [200, 400, 200]
    assert answers[0].json() == {"results": [{"name": "one.jpg", "state": "added"}], "errors": []}
    assert answers[1].json()["results"] == []
    [error] = answers[1].json()["errors"]
    assert error.startswith("notes.jpg: This is not an image or file type the library accepts")
    assert answers[2].json()["results"] == [{"name": "one.jpg", "state": "already in the library"}]
    assert list(MediaItem.objects.values_list("original_name", flat=True)) == ["one.jpg"]
    no_file = editor_client.post(ADD, {}, headers={"Accept": "application/json"})
    assert no_file.status_code == 400
    assert no_file.json()["errors"]


def test_the_list_shows_thumbnails_and_can_be_searched_and_filtered(editor_client):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600), "march.jpg", credit="Rosa")
    services.add_item_from_bytes(png_bytes(seed=5), "logo.png", alt_text="Union logo")
    run_worker()
    page = editor_client.get(CHANGELIST)
    thumbnail = item.renditions.get(preset="square-400", format="webp").url
    assert thumbnail.encode() in page.content
    assert editor_client.get(CHANGELIST, {"q": "union"}).context["cl"].result_count == 1
    assert editor_client.get(CHANGELIST, {"q": "rosa"}).context["cl"].result_count == 1
    assert editor_client.get(CHANGELIST, {"alt": "missing"}).context["cl"].result_count == 1
    assert editor_client.get(CHANGELIST, {"used": "no"}).context["cl"].result_count == 2
    assert editor_client.get(CHANGELIST, {"kind__exact": "image"}).context["cl"].result_count == 2


def test_change_page_sets_the_focal_point_and_shows_where_used(editor_client, make_article):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600), "march.jpg")
    item.alt_text = "Marchers"
    item.save()
    article = make_article(title="March in Puno")
    article.lead_image = item
    publishing_services.save_article(article)
    url = f"{CHANGELIST}{item.pk}/change/"
    page = editor_client.get(url)
    assert b"media/focal-point." in page.content
    assert b"focal-point-picker" in page.content
    assert "lead image of article “March in Puno”" in page.content.decode()
    response = editor_client.post(
        url,
        {
            "original_name": "march.jpg",
            "alt_text": "Marchers in Puno",
            "caption": "",
            "credit": "",
            "copyright": "",
            "licence": "cc-by",
            "focal_x": "0.25",
            "focal_y": "0.75",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.focal_x, item.focal_y, item.licence) == (0.25, 0.75, "cc-by")
    bad = editor_client.post(
        url, {"original_name": "x", "licence": "cc-by", "focal_x": "1.5", "focal_y": "0"}
    )
    assert bad.status_code == 200
    assert b"errorlist" in bad.content


def test_replacing_the_file_from_the_change_page(editor_client, make_article):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600, seed=1), "old.jpg")
    url = f"{CHANGELIST}{item.pk}/change/"
    fields = {
        "original_name": "old.jpg",
        "alt_text": "A",
        "licence": "cc0",
        "focal_x": "0.5",
        "focal_y": "0.5",
    }
    refused = editor_client.post(
        url, {**fields, "replace_with": upload("x.pdf", b"%PDF-1.4 x", "application/pdf")}
    )
    assert "can only be replaced by another" in refused.content.decode()
    done = editor_client.post(
        url, {**fields, "replace_with": upload("new.jpg", jpeg_with_gps(1000, 500, seed=4))}
    )
    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.width, item.original_name) == (1000, "new.jpg")


def test_deleting_a_used_item_is_refused_with_its_uses(editor_client, make_article):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(400, 300), "used.jpg")
    item.is_decorative = True
    item.save()
    article = make_article(title="Water protest")
    article.lead_image = item
    publishing_services.save_article(article)
    page = editor_client.get(f"{CHANGELIST}{item.pk}/delete/")
    text = page.content.decode()
    assert "Water protest" in text
    assert "protected" in text
    editor_client.post(f"{CHANGELIST}{item.pk}/delete/", {"post": "yes"})
    assert MediaItem.objects.filter(pk=item.pk).exists()


def test_an_article_with_an_undescribed_lead_image_asks_for_alt_text(editor_client):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(400, 300), "nameless.jpg")
    response = editor_client.post(ADD_URL, article_form(lead_image=str(item.pk)))
    assert response.status_code == 200
    assert "Add alt text to “nameless.jpg”" in response.content.decode()
    assert not Article.objects.exists()
    draft = editor_client.post(ADD_URL, article_form(lead_image=str(item.pk), status="draft"))
    assert draft.status_code == 302
    assert Article.objects.get().lead_image == item


def test_the_editor_group_has_the_media_permissions(editor):
    for action in ("add", "change", "delete", "view"):
        assert editor.has_perm(f"media.{action}_mediaitem")


def test_the_editor_loads_a_body_with_the_current_file_of_a_replaced_item(
    editor_client, make_article, django_capture_on_commit_callbacks
):
    item, _ = services.add_item_from_bytes(
        jpeg_with_gps(800, 600, seed=1), "old.jpg", alt_text="Strikers"
    )
    old_url = item.url
    article = make_article(body=f'<p>x</p><img src="{old_url}" alt="Strikers">')
    with django_capture_on_commit_callbacks(execute=True):
        services.replace_item_file(item, jpeg_with_gps(640, 480, seed=9), "new.jpg")
    item.refresh_from_db()
    page = editor_client.get(f"/admin/publishing/article/{article.pk}/change/")
    assert page.status_code == 200
    body = page.context["adminform"].form.initial["body"]
    assert item.url in body
    assert old_url not in body  # deleted from storage: the editor would show a broken image
