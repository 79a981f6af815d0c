"""Real chromium: an editor opens the curation queue, opens a partner's piece and republishes it
in one click; a reader finds it on its page with the licence line, in the RSS feed, and the
next Daily Digest carries it. The queue and the item's page pass axe."""

from __future__ import annotations

import feedparser
import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery"


@pytest.fixture
def queued(transactional_db, make_staff, feeds, settings, tmp_path):
    from pressroom.partners import polling, services
    from pressroom.publishing import services as publishing_services
    from pressroom.publishing.models import Topic

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = str(tmp_path / "media")
    make_staff("edna", "Editor")
    peru = publishing_services.save_topic(Topic(name="Peru"))
    partner = services.add_partner(
        "NACLA",
        [feeds.serve_file("/nacla.xml", "nacla-rss2.xml")],
        licence="CC BY-NC-ND 4.0",
        topics=[peru],
        full_text=True,
    )
    polling.fetch_feed(partner.feeds.get().pk)
    return partner


def test_an_editor_republishes_from_the_queue_and_readers_find_it_everywhere(
    live_server, queued, client
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            editor = browser.new_context().new_page()
            editor.goto(f"{live_server.url}/admin/login/?next=/admin/partners/item/")
            editor.fill("#id_username", "edna")
            editor.fill("#id_password", PASSWORD)
            editor.click("input[type=submit]")
            editor.wait_for_url("**/admin/partners/item/")
            queue_titles = editor.locator("#result_list tbody th a").all_inner_texts()
            queue_violations = serious_violations(editor)
            editor.click("text=Peru’s Miners March on Lima")
            editor.wait_for_url("**/change/")
            item_violations = serious_violations(editor)
            editor.click("button[value=now]")
            editor.wait_for_url("**/admin/partners/item/")
            message = editor.locator(".messagelist").inner_text()
            left = editor.locator("#result_list tbody th a").all_inner_texts()
            editor.click(".messagelist a")  # "View it"
            heading = editor.locator("h1").inner_text()
            licence = editor.locator(".licence-line").inner_text()
            canonical = editor.locator("link[rel=canonical]").get_attribute("href")
            body = editor.locator(".article-body").inner_text()
            article_violations = serious_violations(editor, ".article")
        finally:
            browser.close()

    assert queue_titles == ["Peru’s Miners March on Lima", "Water defenders win in Cajamarca"]
    assert queue_violations == []
    assert item_violations == []
    assert "Republished “Peru’s Miners March on Lima” now." in message
    assert left == ["Water defenders win in Cajamarca"]
    assert heading == "Peru’s Miners March on Lima"
    assert licence == "Originally published by NACLA under CC BY-NC-ND 4.0"
    assert canonical.startswith("https://nacla.example/news/peru-miners-march")
    assert "They demand a new formalisation law." in body
    assert article_violations == []

    feed = feedparser.parse(client.get("/feed/").content)
    assert [entry.title for entry in feed.entries] == ["Peru’s Miners March on Lima"]
    from pressroom.newsletter.digests import create_digest

    digest, _ = create_digest()
    assert list(digest.articles.values_list("title", flat=True)) == ["Peru’s Miners March on Lima"]
