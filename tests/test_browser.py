"""A reader with a keyboard and a screen reader: real chromium, real pages, axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test


@pytest.fixture
def site_pages(transactional_db, make_article, topic) -> list[str]:
    """A small live site: a featured topic and a few articles, one republished; the pages a
    reader visits, ending with a mistyped address."""
    from pressroom.publishing import services

    topic.is_featured = True
    services.save_topic(topic)
    article = make_article(
        body="<p>Thousands of miners marched on Lima.</p><h2>Why</h2>"
        "<blockquote><p>Ni un paso atrás.</p></blockquote>"
        "<ul><li>One</li><li>Two</li></ul>",
        original_outlet="Servindi",
        original_url="https://www.servindi.org/2024/03/miners/",
    )
    for number in range(3):
        make_article(title=f"More news {number}")
    # The other apps' demo content (a running campaign), so the pages carry the campaign banner
    # and the digest signup form as readers see them (make_article indexed the articles).
    from pressroom.fundraising.demo import create_demo_campaign

    create_demo_campaign()
    # What issue 13 added for readers: a correction on the article ("Updated", the notes), the
    # corrections page, an author's profile with links, and a page.
    from pressroom.publishing.models import Author, Page

    services.add_correction(article, "An earlier version gave the wrong date of the march.")
    author = Author.objects.create(
        name="Tomás Mensah",
        slug="tomas-mensah",
        bio="Covers mining and labour in the Andes.",
        website="https://ana.example.org/",
        fediverse="@ana@social.example",
    )
    article.authors.add(author)
    page = services.save_page(
        Page(title="About us", slug="about", body="<p>An independent newsroom.</p>")
    )
    services.publish_page(page)
    return [
        "/",
        topic.get_absolute_url(),
        article.get_absolute_url(),
        "/corrections/",
        author.get_absolute_url(),
        page.get_absolute_url(),
        "/no-such-page/",
    ]


@pytest.fixture
def browser_page(site_pages):
    # Content is written before Playwright starts: its sync API runs in a greenlet, and ORM
    # calls made from there would open a second database connection nobody closes (and trip
    # Django's async-safety check). The live server answers from threads of its own.
    with chromium_page() as page:
        yield page


def test_keyboard_reader_skips_to_content_and_pages_pass_axe(live_server, site_pages, browser_page):
    page = browser_page
    for path in site_pages:
        page.goto(live_server.url + path)
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => ({text: document.activeElement.textContent.trim(),"
            " href: document.activeElement.getAttribute('href')})"
        )
        assert focused == {"text": "Skip to content", "href": "#content"}, path
        expect(page.locator(".skip-link"), "the skip link shows when focused").to_be_visible()

        page.keyboard.press("Enter")
        page.wait_for_url("**#content")
        landed = page.evaluate(
            "() => ({id: document.activeElement.id, tag: document.activeElement.tagName})"
        )
        assert landed == {"id": "content", "tag": "MAIN"}, path

        assert serious_violations(page) == [], path

    page.goto(live_server.url + "/")
    expect(
        page.get_by_role("heading", name="Urgent End Of Year Fundraising Campaign")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Sign Up To Our Daily Digest")).to_be_visible()
