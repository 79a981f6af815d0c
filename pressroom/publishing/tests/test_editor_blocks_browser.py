"""An editor builds an article from the body editor's blocks in real chromium: an image from the
library (caption and credit come along), a gallery, audio and video from the library, an embed
from a pasted address (no request to the provider), a pull quote and details/summary."""

from __future__ import annotations

import re

import pytest

from pressroom.media import services as media_services
from pressroom.media.tests.images import png_bytes
from tests.browser import browser_test, chromium_page, log_in_to_admin

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def library(transactional_db, django_user_model, settings, tmp_path, make_article):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django_user_model.objects.create_superuser("chief", "chief@example.org", PASSWORD)
    photo, _ = media_services.add_item_from_bytes(
        png_bytes(seed=1),
        "march.png",
        alt_text="Miners march down Avenida Abancay",
        caption="The march reached Lima on Monday.",
        credit="Ana Quispe",
    )
    second, _ = media_services.add_item_from_bytes(
        png_bytes(seed=2), "crowd.png", alt_text="The crowd in the square"
    )
    audio, _ = media_services.add_item_from_bytes(
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64, "interview.mp3", caption="Interview"
    )
    video, _ = media_services.add_item_from_bytes(
        b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64, "clip.mp4"
    )
    article = make_article("Blocks", body="<p>Start.</p>")
    return article, photo, second, audio, video


def choose(page, button_title: str, names: list[str]) -> None:
    page.locator(f'.prose-menubar [title="{button_title}"]').click()
    dialog = page.locator("dialog.pressroom-picker")
    for name in names:
        dialog.locator(".pressroom-picker-item", has_text=name).click()
    if len(names) > 1 or dialog.get_by_role("button", name="Insert").is_visible():
        dialog.get_by_role("button", name="Insert").click()
    dialog.wait_for(state="detached")


def test_an_editor_builds_an_article_from_the_blocks(live_server, library):
    article, photo, second, audio, video = library
    to_youtube: list[str] = []
    with chromium_page() as page:
        page.set_default_timeout(15_000)
        page.route("https://**.youtube*.com/**", lambda route: to_youtube.append(route.request.url))
        log_in_to_admin(page, live_server.url, "chief", PASSWORD)
        page.goto(f"{live_server.url}/admin/publishing/article/{article.pk}/change/")
        page.locator(".ProseMirror p", has_text="Start.").first.click()
        editor = page.locator(".ProseMirror:visible").first
        page.keyboard.press("End")

        choose(page, "image from the library", ["march.png"])
        choose(page, "gallery", ["march.png", "crowd.png"])
        choose(page, "audio from the library", ["interview.mp3"])
        choose(page, "video from the library", ["clip.mp4"])

        # An address the site does not know gets a reason, then a YouTube one the player.
        page.locator('.prose-menubar [title^="embed"]').click()
        page.locator("dialog[open] input[name=url]").fill("https://example.org/a-page")
        page.locator("dialog[open] button[type=submit]").click()
        page.locator("dialog[open]", has_text="does not know that address").wait_for()
        page.locator("dialog[open] input[name=url]").fill("https://youtu.be/dQw4w9WgXcQ")
        page.locator("dialog[open] button[type=submit]").click()
        editor.locator(".pressroom-embed").wait_for()

        page.locator('.prose-menubar [title="pull quote"]').click()
        page.locator('.prose-menubar [title="details / summary"]').click()
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/publishing/article/")
    assert to_youtube == []  # writing an embed asks nothing of the provider

    from pressroom.publishing.models import Article

    body = Article.objects.get(pk=article.pk).body
    # The image from the library, with its alt text, size, caption and credit.
    assert re.search(
        rf'<figure><img src="{re.escape(photo.url)}" alt="Miners march down Avenida Abancay" '
        r'width="400" height="300"><figcaption>The march reached Lima on Monday\. '
        r"<small>Ana Quispe</small></figcaption></figure>",
        body,
    ), body
    # The gallery: a figure of figures.
    assert re.search(
        rf'<figure><figure><img src="{re.escape(photo.url)}"[^>]*>.*?</figure>'
        rf'<figure><img src="{re.escape(second.url)}" alt="The crowd in the square"[^>]*>'
        r"</figure></figure>",
        body,
    ), body
    assert f'<audio src="{audio.url}" preload="metadata" controls="">' in body
    assert "<figcaption>Interview</figcaption>" in body
    assert f'<video src="{video.url}" preload="metadata" controls="">' in body
    assert re.search(
        r'<iframe (?=[^>]*src="https://www\.youtube-nocookie\.com/embed/dQw4w9WgXcQ")'
        r'(?=[^>]*title="YouTube player")(?=[^>]*allowfullscreen)[^>]*></iframe>',
        body,
    ), body
    assert (
        "<figure><blockquote><p>The words to pull out.</p></blockquote>"
        "<figcaption>Who said them</figcaption></figure>"
    ) in body
    assert "<details><summary>Summary</summary><p>Details shown on request.</p></details>" in body
    # Blocks follow each other: no empty paragraph is left between them.
    assert body.count("<p></p>") <= 1
    # The library knows where its items are used.
    from pressroom.media.models import MediaUse

    used = set(MediaUse.objects.filter(object_id=article.pk).values_list("item_id", flat=True))
    assert used >= {photo.pk, second.pk, audio.pk, video.pk}
