"""A reader signs up from a page's aside in real chromium, confirms from the email, and the
newsletter pages pass axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pressroom.newsletter.tests.conftest import run_worker
from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test


@pytest.fixture
def article_path(transactional_db, make_article, topic) -> str:
    from pressroom.publishing import services

    topic.is_featured = True
    services.save_topic(topic)
    return make_article().get_absolute_url()


@pytest.fixture
def browser_page(article_path):
    with chromium_page() as page:
        yield page


def test_reader_subscribes_from_an_article_page_and_confirms_in_the_browser(
    live_server, article_path, browser_page, smtp_server, settings, monkeypatch
):
    settings.SITE_URL = live_server.url
    page = browser_page
    page.goto(live_server.url + article_path)
    # The sidebar's signup (the article page has another one inside it, for phones).
    signup = page.locator(".sidebar .digest-signup")
    signup.get_by_label("Email address").fill("rosa@example.org")
    signup.get_by_text("Only some topics?").click()
    signup.get_by_label("Peru").check()
    signup.get_by_role("button", name="Subscribe").press("Enter")
    page.wait_for_url("**/digest/thanks/")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert serious_violations(page) == []

    # Playwright's event loop runs in this thread, and Django refuses database work beside a
    # running loop unless told the caller knows (the worker must stay in the main thread for its
    # signal handlers).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    run_worker()
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE")
    [received] = smtp_server.to("rosa@example.org")
    link = re.search(r"https?://\S+/digest/confirm/\S+/", received.text).group(0)
    page.goto(link)
    assert serious_violations(page) == []
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading", name="You're subscribed")).to_be_visible()

    page.get_by_role("link", name="Choose topics or pause it").click()
    expect(page.get_by_role("heading", name="Your Daily Digest")).to_be_visible()
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
    expect(page.get_by_role("heading", name="Sign Up To Our Daily Digest")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    expect(page.get_by_role("alert").first).to_be_visible()
    assert serious_violations(page) == []
