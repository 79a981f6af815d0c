"""A reader signs up from a page's aside in real chromium, confirms from the email, and the
newsletter pages pass axe-core."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']}: " + "; ".join(node["html"] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def article_path(transactional_db, make_article, topic) -> str:
    from pressroom.publishing import services

    topic.is_featured = True
    services.save_topic(topic)
    return make_article().get_absolute_url()


@pytest.fixture
def browser_page(article_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_reader_subscribes_from_an_article_page_and_confirms_in_the_browser(
    live_server, article_path, browser_page, smtp_server, settings
):
    settings.SITE_URL = live_server.url
    page = browser_page
    page.goto(live_server.url + article_path)
    page.get_by_label("Email address").fill("rosa@example.org")
    page.get_by_text("Only some topics?").click()
    page.get_by_label("Peru").check()
    page.get_by_role("button", name="Subscribe").press("Enter")
    page.wait_for_url("**/digest/thanks/")
    assert page.get_by_role("heading", name="Check your inbox").is_visible()
    assert serious_violations(page) == []

    [received] = smtp_server.to("rosa@example.org")
    link = re.search(r"https?://\S+/digest/confirm/\S+/", received.text).group(0)
    page.goto(link)
    assert serious_violations(page) == []
    page.get_by_role("button", name="Confirm my subscription").click()
    assert page.get_by_role("heading", name="You're subscribed").is_visible()

    page.get_by_role("link", name="Choose topics or pause it").click()
    assert page.get_by_role("heading", name="Your Daily Digest").is_visible()
    assert serious_violations(page) == []
    page.get_by_label("Pause the digest for now").check()
    page.get_by_role("button", name="Save preferences").click()
    assert page.get_by_role("status").inner_text() == "Saved."

    # What she chose is what the page now shows (the ORM is out of reach inside Playwright's
    # event loop; the page is the reader's view of the same rows anyway).
    page.reload()
    assert "paused" in page.get_by_text("Status:").inner_text()
    assert page.get_by_label("Pause the digest for now").is_checked()
    assert page.get_by_label("Peru").is_checked()
    assert page.get_by_label("Only the topics I choose").is_checked()


def test_signup_page_with_every_topic_passes_axe(live_server, article_path, browser_page):
    page = browser_page
    page.goto(live_server.url + "/digest/")
    assert page.get_by_role("heading", name="Sign Up To Our Daily Digest").is_visible()
    assert serious_violations(page) == []
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_role("alert").first.is_visible()
    assert serious_violations(page) == []
