"""Real chromium at a phone's and a desktop's width: the site settings change the colour readers
see and the logo in the header; a device in dark mode gets the dark theme; printing an article
leaves out the navigation, the appeal and the signup, and prints the article's address and date."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
WIDTHS = [(390, 844), (1280, 900)]


@pytest.fixture
def themed_site(transactional_db, settings, tmp_path, make_article):
    from pressroom.fundraising.models import Campaign
    from pressroom.site.models import SiteSettings
    from pressroom.site.services import save_site_settings
    from pressroom.site.tests.conftest import png_upload

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = str(tmp_path / "media")
    now = timezone.now()
    Campaign.objects.create(
        slug="end-of-year",
        title="End Of Year Fundraising Campaign",
        heading="Urgent End Of Year Fundraising Campaign",
        message="Online donations are back!",
        goal_amount=Decimal(10000),
        currency="USD",
        starts_at=now - timedelta(days=3),
        ends_at=now + timedelta(days=10),
        is_active=True,
    )
    article = make_article(
        body='<p>Thousands marched, <a href="https://partner.example.org/report">the report says</a>.</p>'
    )
    return article, SiteSettings, save_site_settings, png_upload


def _theme(page, url: str) -> dict:
    page.goto(url)
    return page.evaluate(
        """() => {
          const style = (selector, property) => {
            const element = document.querySelector(selector);
            return element ? getComputedStyle(element)[property] : null;
          };
          const logo = document.querySelector('.site-name img');
          return {
            button: style('.digest-signup .button', 'backgroundColor'),
            background: style('body', 'backgroundColor') === 'rgba(0, 0, 0, 0)'
              ? style('html', 'backgroundColor') : style('body', 'backgroundColor'),
            text: style('body', 'color'),
            logo: logo ? {src: logo.getAttribute('src'), loaded: logo.complete && logo.naturalWidth > 0,
                          alt: logo.alt, width: logo.getBoundingClientRect().width} : null,
          };
        }"""
    )


def test_site_settings_change_the_colour_and_logo_readers_see(live_server, themed_site):
    _article, SiteSettings, save_site_settings, png_upload = themed_site
    from playwright.sync_api import sync_playwright

    before: dict[int, dict] = {}
    after: dict[int, dict] = {}
    dark: dict[int, dict] = {}
    violations: dict[int, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width, height in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": height})
                before[width] = _theme(page, live_server.url + "/")
                page.close()
        finally:
            browser.close()
    # The editor's change, as the admin saves it (the content generation moves on). Outside
    # Playwright's greenlet: the ORM may not run inside it.
    site = SiteSettings.from_environment()
    site.name = "The Andes Post"
    site.accent_colour = "#1d5e20"
    site.accent_colour_dark = "#9ccc65"
    save_site_settings(site, uploads={"logo": png_upload("masthead.png", 600, 120, "#1d5e20")})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width, height in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": height})
                after[width] = _theme(page, live_server.url + "/")
                violations[width] = serious_violations(page)
                page.emulate_media(color_scheme="dark")
                dark[width] = _theme(page, live_server.url + "/")
                violations[width] += serious_violations(page)  # contrast in dark mode too
                page.close()
        finally:
            browser.close()

    for width, _ in WIDTHS:
        assert before[width]["button"] == "rgb(179, 38, 30)", "the default accent, #b3261e"
        assert before[width]["logo"] is None, "no logo: the name is the masthead"
        assert after[width]["button"] == "rgb(29, 94, 32)", "the accent the editor chose"
        logo = after[width]["logo"]
        assert logo["loaded"], logo
        assert logo["alt"] == "The Andes Post"
        assert 0 < logo["width"] <= width
        assert after[width]["background"] == "rgb(255, 255, 255)"
        assert dark[width]["background"] == "rgb(18, 18, 18)", "dark mode: #121212"
        assert dark[width]["text"] != after[width]["text"]
        assert dark[width]["button"] == "rgb(156, 204, 101)", "the dark-mode accent"
        assert violations[width] == []


def test_an_article_prints_without_navigation_appeal_or_signup(live_server, themed_site):
    article, *_ = themed_site
    from playwright.sync_api import sync_playwright

    shown = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width, height in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(live_server.url + article.get_absolute_url())
                parts = ("nav", ".campaign-banner", ".digest-signup")
                # The signup block shows once per width (inside the article on phones, in the
                # sidebar on desktops): each part counts as shown when any copy of it is.
                screen = {
                    part: page.locator(f"{part} >> visible=true").count() > 0 for part in parts
                }
                page.emulate_media(media="print")
                printed = {
                    part: page.locator(f"{part} >> visible=true").count() > 0 for part in parts
                }
                address = page.locator(".print-only").first
                link_suffix = page.evaluate(
                    """() => getComputedStyle(
                        document.querySelector('.article-body a'), '::after').content"""
                )
                shown[width] = {
                    "screen": screen,
                    "printed": printed,
                    "address": address.inner_text() if address.is_visible() else None,
                    "date": page.locator(".article .meta time").first.is_visible(),
                    "title": page.locator("h1").first.is_visible(),
                    "link": link_suffix,
                    "pdf": len(page.pdf()) if width == 1280 else 1,
                }
                page.close()
        finally:
            browser.close()

    for width, _ in WIDTHS:
        result = shown[width]
        assert all(result["screen"].values()), result["screen"]
        assert not any(result["printed"].values()), result["printed"]
        assert result["address"]
        assert result["address"].endswith(article.get_absolute_url())
        assert result["date"]
        assert result["title"]
        assert result["link"] == '" (https://partner.example.org/report)"'
        assert result["pdf"] > 0
