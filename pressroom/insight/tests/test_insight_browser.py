"""Real chromium: a reader's page sends its beacon (INSIGHT_COUNTING=beacon) to the production
WSGI application, served on loopback as `pressroom serve` serves it, and the view is counted with
its referrer's domain; an editor reads the report, whose chart and tables pass axe-core."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.utils import timezone

from pressroom.insight.models import PageView
from pressroom.lib import counting
from pressroom.wsgi import application
from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, log_in_to_admin, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def front(transactional_db, settings) -> Iterator[str]:
    """`pressroom.wsgi.application` (the counting front, the page cache, Django) on loopback."""
    settings.INSIGHT_COUNTING = "beacon"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    server = make_server(
        "127.0.0.1", 0, application, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_readers_page_sends_one_beacon_and_the_view_is_counted(front, make_article):
    from playwright.sync_api import sync_playwright

    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    beacons = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(user_agent=BROWSER)
            page.on(
                "response",
                lambda response: (
                    beacons.append(response.status) if "/_count?" in response.url else None
                ),
            )
            # Reached from another site's link, with a campaign tag.
            page.goto(
                f"{front}{path}?utm_campaign=spring",
                referer="https://social.example/@newsroom/123",
            )
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert beacons == [204]
    counting.flush_counts()
    row = PageView.objects.get()
    assert (row.path, row.kind, row.referrer, row.campaign, row.views, row.visitors) == (
        path,
        "article",
        "social.example",
        "spring",
        1,
        1,
    )


def test_the_report_reads_without_script_and_passes_axe(
    live_server, make_staff, make_article, settings
):
    from playwright.sync_api import sync_playwright

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    article = make_article(title="Miners march on Lima")
    today = timezone.localdate()
    for days_ago, views in ((3, 40), (1, 12), (0, 7)):
        PageView.objects.create(
            day=today - timedelta(days=days_ago),
            path=article.get_absolute_url(),
            kind="article",
            referrer="example.org",
            views=views,
            visitors=views - 2,
        )
    make_staff("aud", "Audience")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            log_in_to_admin(page, live_server.url, "aud", "correct horse battery")
            page.goto(f"{live_server.url}/admin/insight/pageview/")
            chart = page.locator('svg[role="img"][aria-labelledby^="views-chart"]')
            assert chart.count() == 1
            assert "59 views" in chart.locator("desc").text_content()
            assert (
                page.locator("#insight-articles td", has_text="Miners march on Lima").count() == 1
            )
            assert serious_violations(page, "#content") == []
            # The same report without JavaScript: every figure is in the HTML.
            context = browser.new_context(java_script_enabled=False)
            quiet = context.new_page()
            log_in_to_admin(quiet, live_server.url, "aud", "correct horse battery")
            quiet.goto(f"{live_server.url}/admin/insight/pageview/")
            assert quiet.locator("#insight-days td", has_text="40").count() == 1
        finally:
            browser.close()
