"""Real chromium: a reader searches, filters and reads highlighted results without JavaScript;
the search page passes axe (no serious or critical violations)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]


@pytest.fixture
def archive(transactional_db, settings):
    from django.utils import timezone

    from pressroom.publishing import services
    from pressroom.publishing.models import Article, Author, Topic

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    peru = services.save_topic(Topic(name="Peru"))
    writer = services.save_author(Author(name="Rosa Mamani"))
    for days, title in ((3, "Miners march on Lima"), (40, "Lithium miners in Perú")):
        services.save_article(
            Article(
                title=title,
                body=f"<p>{title}: thousands of miners walked for a week.</p>",
                status=Article.Status.PUBLISHED,
                published_at=timezone.now() - timedelta(days=days),
            ),
            topics=[peru],
            authors=[writer],
        )


def test_a_reader_searches_without_javascript_and_the_page_passes_axe(live_server, archive):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(f"{live_server.url}/search/")
            page.fill("#search-query", "peru miners")
            page.click("button[type=submit]")
            count = page.locator(".search-count").inner_text()
            marked = page.locator(".search-snippet mark").all_inner_texts()
            page.goto(f"{live_server.url}/search/?q=miners&sort=newest&topic=peru")
            order = page.locator(".search-result h2").all_inner_texts()
            checked = browser.new_context().new_page()
            checked.goto(f"{live_server.url}/search/?q=miners")
            violations = serious_violations(checked)
        finally:
            browser.close()

    assert count == "1 article match “peru miners”"
    assert "miners" in [word.lower() for word in marked]
    assert order == ["Miners march on Lima", "Lithium miners in Perú"]
    assert violations == []
