"""Real chromium: an Audience editor writes an appeal in the articles' editor, reviews it (segment
size, previews) and sends it now; the add page and the review page pass axe."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, log_in_to_admin, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery"


@pytest.fixture
def audience(transactional_db, make_staff, settings):
    from pressroom.newsletter.models import Subscriber

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    make_staff("aud", "Audience")
    Subscriber.objects.bulk_create(
        Subscriber(email=f"reader{n}@example.org", status="confirmed") for n in range(3)
    )


def test_audience_writes_reviews_and_sends_an_appeal_in_the_browser(live_server, audience):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            log_in_to_admin(page, live_server.url, "aud", PASSWORD)
            page.goto(f"{live_server.url}/admin/newsletter/oneoffemail/add/")
            page.select_option("#id_kind", "appeal")
            page.fill("#id_subject", "Keep us independent")
            body = page.locator(".ProseMirror:visible").first
            body.wait_for(state="visible")
            body.click()
            page.keyboard.type("Three days left to reach our goal.")
            add_violations = serious_violations(page)
            page.click("input[name=_save]")
            page.wait_for_url("**/send/")
            segment = page.locator("#segment-size").inner_text()
            preview = page.frame_locator("iframe").locator("body").inner_text()
            review_violations = serious_violations(page)
            page.check("input[name=when][value=now]")
            start = page.locator("input[name=_start]")
            # Below the preview frame: scrolled to first, as the reader of the page would.
            start.scroll_into_view_if_needed()
            start.click()
            page.wait_for_url("**/admin/newsletter/oneoffemail/")
            listed = page.locator("#result_list").inner_text()
        finally:
            browser.close()

    from pressroom.newsletter.models import Digest, OneOffEmail

    send = OneOffEmail.objects.get()
    assert send.status == Digest.Status.SENDING
    assert "<p>Three days left to reach our goal.</p>" in send.body
    assert "Segment: 3 readers" in segment
    assert "Three days left to reach our goal." in preview
    assert "Keep us independent" in listed
    assert add_violations == []
    assert review_violations == []
