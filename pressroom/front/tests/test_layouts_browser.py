"""The reader's site in real chromium, on a 390 x 844 phone and a 1280 px screen (issue 14):
the first headline on the first screen of a phone with the campaign appeal showing, the width
used on a desktop, a Donate link after the appeal is hidden, the digest signup from an article,
nothing fetched from any other host, and axe-core clean on every public page at both sizes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from pressroom.media.tests.conftest import media_root  # noqa: F401 (fixture: files in tmp)
from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LOOPBACK = {"127.0.0.1", "localhost"}


@pytest.fixture
def newsroom(transactional_db, make_article, topic, author, settings) -> dict[str, str]:
    """A small outlet as readers find it: two featured topics, a dozen articles (some with
    photos, one republished, one with a summary), an author with a portrait, a running
    campaign, a page; the addresses a reader visits."""
    # Stylesheets straight from the apps: the live server does not serve hashed names, and
    # these tests are about what the styles do.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The donate form shows (no request reaches the processor: nobody submits it here).
    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    from pressroom.fundraising.demo import create_demo_campaign
    from pressroom.media.tests.conftest import library_photo
    from pressroom.publishing import services
    from pressroom.publishing.models import Page, Topic

    topic.is_featured = True
    services.save_topic(topic)
    bolivia = services.save_topic(Topic(name="Bolivia", is_featured=True))
    author.photo = library_photo("ana.jpg", 600, 600, seed=3, alt_text="Ana Quispe")
    services.save_author(author)
    photos = [
        library_photo(f"march-{seed}.jpg", 900, 600, seed=seed, alt_text=f"Marchers, photo {seed}")
        for seed in (11, 12)
    ]
    for number in range(10):
        make_article(
            title=f"Teachers in Cusco strike for the {number + 1}th day over unpaid wages",
            body="<p>The strike goes on.</p>" * 3,
            topics=[topic, bolivia] if number % 3 == 0 else [topic],
            lead_image=photos[number % 2] if number < 4 else None,
        )
    article = make_article(
        title="Miners march on Lima",
        body="<p>Thousands of miners marched on Lima.</p>"
        "<figure><blockquote><p>Ni un paso atrás.</p></blockquote><figcaption>A miner</figcaption></figure>"
        "<p>They asked for the law to be withdrawn.</p>",
        editor_excerpt="The biggest march in a decade reached the capital on Monday.",
        original_outlet="Servindi",
        original_url="https://www.servindi.org/2024/03/miners/",
        lead_image=photos[0],
        topics=[topic, bolivia],
    )
    create_demo_campaign()
    page = services.save_page(
        Page(title="About us", slug="about", body="<p>An independent newsroom.</p>")
    )
    services.publish_page(page)
    return {
        "home": "/",
        "topic": topic.get_absolute_url(),
        "article": article.get_absolute_url(),
        "author": author.get_absolute_url(),
        "page": page.get_absolute_url(),
        "search": "/search/?q=teachers",
        "digest": "/digest/",
        "digest archive": "/digest/archive/",
        "donate": "/donate/",
        "corrections": "/corrections/",
        "topics": "/topics/",
    }


def open_browser(playwright, viewport: dict[str, int]):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
    return browser, context.new_page()


def first_headline_box(page) -> dict[str, float]:
    headline = page.locator("main .teaser :is(h2, h3) a").first
    box = headline.bounding_box()
    assert box is not None
    return box


def test_the_first_headline_is_on_a_phones_first_screen_with_the_appeal_showing(
    live_server, newsroom
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = open_browser(playwright, PHONE)
        try:
            for name in ("home", "topic"):
                page.goto(live_server.url + newsroom[name])
                banner = page.locator("#campaign-banner")
                expect(banner, name).to_be_visible()
                # The compact bar: the progress and the Donate button in view, the words folded.
                expect(page.locator("#campaign-progress-bar"), name).to_be_visible()
                expect(banner.get_by_role("link", name="Donate"), name).to_be_visible()
                assert page.locator(".campaign-message").get_attribute("open") is None, name
                box = first_headline_box(page)
                assert box["y"] + box["height"] < PHONE["height"], (name, box)
            # The appeal's words open from the bar, without leaving the page.
            page.get_by_text("Why we ask").click()
            expect(page.locator(".campaign-message p").first).to_be_visible()
        finally:
            browser.close()


def test_a_desktop_page_uses_the_width(live_server, newsroom):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = open_browser(playwright, DESKTOP)
        try:
            for name in ("home", "topic", "article", "author", "search"):
                page.goto(live_server.url + newsroom[name])
                main = page.locator("main").bounding_box()
                sidebar = page.locator(".sidebar").bounding_box()
                assert main, name
                assert sidebar, name
                # A sidebar beside the main column, holding the digest signup.
                assert sidebar["x"] >= main["x"] + main["width"], name
                expect(page.locator(".sidebar .digest-signup"), name).to_be_visible()
                assert main["width"] < 0.75 * DESKTOP["width"], name
                expect(page.locator(".digest-signup--inline"), name).not_to_be_visible()
            # The home page opens with its lead story's picture across the main column, and
            # its featured stories side by side.
            page.goto(live_server.url + newsroom["home"])
            lead = page.locator(".home-lead img").bounding_box()
            column = page.locator("main").bounding_box()
            assert lead
            assert column
            assert lead["width"] > 0.9 * column["width"]
            featured = page.locator(".home-featured .teaser").all()
            assert len(featured) >= 2
            first, second = featured[0].bounding_box(), featured[1].bounding_box()
            assert first
            assert second
            assert first["y"] == second["y"]
            assert second["x"] > first["x"]
            assert page.locator(".topic-section").count() == 2
        finally:
            browser.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_donate_link_stays_after_the_appeal_is_hidden(live_server, newsroom, viewport):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = open_browser(playwright, viewport)
        try:
            page.goto(live_server.url + newsroom["article"])
            page.get_by_role("button", name="Hide this appeal").click()
            assert page.locator("#campaign-banner").is_hidden()
            header_donate = page.locator(".site-header").get_by_role("link", name="Donate")
            expect(header_donate).to_be_visible()
            # Hidden on the next page too, and the Donate link still there and working.
            page.goto(live_server.url + newsroom["topic"])
            assert page.locator("#campaign-banner").is_hidden()
            header_donate.click()
            page.wait_for_url("**/donate/")
            # The donate page repeats the goal and the progress, a suggested amount checked.
            expect(page.locator(".donate-campaign progress")).to_be_visible()
            expect(page.get_by_text("goal").first).to_be_visible()
            assert page.locator("input[name=amount]:checked").count() == 1
        finally:
            browser.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_reader_signs_up_for_the_digest_from_an_article(live_server, newsroom, viewport):
    from playwright.sync_api import sync_playwright

    from pressroom.newsletter.models import Subscriber

    email = f"reader-{viewport['width']}@example.org"
    with sync_playwright() as playwright:
        browser, page = open_browser(playwright, viewport)
        try:
            page.goto(live_server.url + newsroom["article"])
            # One signup block shows: inside the page on a phone, in the sidebar on a desktop.
            signup = page.locator(".digest-signup:visible")
            assert signup.count() == 1
            field = signup.get_by_label("Email address")
            assert field.get_attribute("type") == "email"
            assert field.get_attribute("autocomplete") == "email"
            field.fill(email)
            signup.get_by_role("button", name="Subscribe").click()
            page.wait_for_url("**/digest/thanks/")
            expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
        finally:
            browser.close()
    subscriber = Subscriber.objects.get(email=email)
    assert subscriber.status == Subscriber.Status.PENDING


def test_every_public_page_loads_nothing_from_another_host_and_passes_axe_at_both_widths(
    live_server, newsroom
):
    from playwright.sync_api import sync_playwright

    hosts: dict[str, set[str]] = {}
    problems: list[str] = []
    current = {"name": ""}  # the page being loaded, for the record of each request

    def record(route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        hosts.setdefault(host, set()).add(current["name"])
        if host in LOOPBACK:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        for viewport in (PHONE, DESKTOP):
            browser, page = open_browser(playwright, viewport)
            try:
                page.route("**/*", record)
                for name, path in newsroom.items():
                    current["name"] = f"{name} at {viewport['width']} px"
                    page.goto(live_server.url + path, wait_until="load")
                    # Every lazy image and late request too: scroll to the end.
                    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                    page.wait_for_load_state("networkidle")
                    problems += [f"{current['name']}: {v}" for v in serious_violations(page)]
            finally:
                browser.close()
    assert set(hosts) <= LOOPBACK, {host: hosts[host] for host in set(hosts) - LOOPBACK}
    assert hosts, "no request was recorded"
    assert problems == []
