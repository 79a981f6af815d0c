"""An editor drops several files on the media library's upload page in real chromium: a real
drop event carrying a DataTransfer of files made in the page (two photos drawn on a canvas and a
PDF). The page lists what was dropped, uploads each file (one request per file, its answer shown
as it arrives), and the library lists them with thumbnails."""

from __future__ import annotations

import pytest

from pressroom.media.models import MediaItem
from tests.browser import browser_test, chromium_page, log_in_to_admin

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery staple"

# Files made in the page, put in a DataTransfer and dropped on the zone as a browser does it:
# dragenter, dragover, drop, each a DragEvent carrying the same DataTransfer.
DROP_FILES = """async (selector) => {
  async function photo(name, colour) {
    const canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 240;
    const context = canvas.getContext("2d");
    context.fillStyle = colour;
    context.fillRect(0, 0, 320, 240);
    context.fillStyle = "#fff";
    context.fillRect(40, 40, 120, 80);
    const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
    return new File([blob], name, { type: "image/png" });
  }
  const transfer = new DataTransfer();
  transfer.items.add(await photo("march-on-lima.png", "#8a2be2"));
  transfer.items.add(await photo("crowd-in-the-square.png", "#2e8b57"));
  transfer.items.add(
    new File(["%PDF-1.4\\n1 0 obj<<>>endobj\\ntrailer<<>>\\n%%EOF\\n"], "ruling.pdf",
             { type: "application/pdf" })
  );
  const zone = document.querySelector(selector);
  for (const type of ["dragenter", "dragover", "drop"]) {
    const event = new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer });
    zone.dispatchEvent(event);
    if (!event.defaultPrevented) return `${type} was not taken by the page`;
  }
  return "dropped";
}"""

NAMES = ["march-on-lima.png", "crowd-in-the-square.png", "ruling.pdf"]


@pytest.fixture
def editor(transactional_db, django_user_model, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django_user_model.objects.create_superuser("chief", "chief@example.org", PASSWORD)


def test_several_files_dropped_on_the_upload_page_join_the_library(live_server, editor):
    with chromium_page() as page:
        page.set_default_timeout(15_000)
        log_in_to_admin(page, live_server.url, "chief", PASSWORD)
        page.goto(f"{live_server.url}/admin/media/mediaitem/add/")
        assert page.evaluate(DROP_FILES, "[data-drop-zone]") == "dropped"
        chosen = page.locator("[data-drop-list] li").all_inner_texts()
        assert page.evaluate("document.querySelector('[data-drop-zone] input').files.length") == 3
        page.click("input[type=submit][value=Upload]")
        # One request per file, each answer shown as it arrives; then a link to the library.
        status = page.locator("[data-upload-status]")
        status.get_by_text("3 of 3 file(s) uploaded").wait_for()
        answers = page.locator("[data-drop-list] li").all_inner_texts()
        status.get_by_role("link", name="Go to the media library").click()
        page.wait_for_url("**/admin/media/mediaitem/")
        listed = page.locator("#result_list").inner_text()
        thumbnails = page.locator("#result_list img").count()
    assert [text.split(" (")[0] for text in chosen] == NAMES
    assert answers == [f"{name}: added" for name in NAMES]
    for name in NAMES:
        assert name in listed
    assert thumbnails == 2  # the two photos; the PDF has none
    stored = {item.original_name: item for item in MediaItem.objects.all()}
    assert set(stored) == set(NAMES)
    assert stored["march-on-lima.png"].kind == MediaItem.Kind.IMAGE
    assert (stored["march-on-lima.png"].width, stored["march-on-lima.png"].height) == (320, 240)
    assert stored["ruling.pdf"].kind == MediaItem.Kind.DOCUMENT
