"""Real chromium: an editor writes a page in the admin's editor and publishes it; a reader opens
it at its nested address. The page admin and the public page pass axe (no serious or critical
violations)."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, log_in_to_admin, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery"


@pytest.fixture
def about(transactional_db, make_staff, settings):
    from pressroom.publishing import services
    from pressroom.publishing.models import Page

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    make_staff("edna", "Editor")
    return services.save_page(
        Page(
            title="About us",
            slug="about",
            body="<p>We report on movements.</p>",
            status=Page.Status.PUBLISHED,
        )
    )


def test_an_editor_writes_a_nested_page_that_readers_open_and_both_pass_axe(live_server, about):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            editor = browser.new_context().new_page()
            log_in_to_admin(editor, live_server.url, "edna", PASSWORD)
            editor.goto(f"{live_server.url}/admin/publishing/page/add/")
            editor.fill("#id_title", "Our team")
            editor.select_option("#id_parent", label="About us")
            body = editor.locator(".ProseMirror:visible").first
            body.wait_for(state="visible")
            body.click()
            editor.keyboard.type("Five reporters and an editor.")
            editor.select_option("#id_status", "published")
            add_violations = serious_violations(editor)
            editor.click("input[name=_save]")
            editor.wait_for_url("**/admin/publishing/page/")
            list_violations = serious_violations(editor)

            reader = browser.new_context().new_page()
            response = reader.goto(f"{live_server.url}/about/our-team/")
            status = response.status if response else None
            heading = reader.locator("h1").inner_text()
            text = reader.locator(".article-body").inner_text()
            public_violations = serious_violations(reader)
        finally:
            browser.close()

    assert status == 200
    assert heading == "Our team"
    assert "Five reporters and an editor." in text
    assert add_violations == []
    assert list_violations == []
    assert public_violations == []
