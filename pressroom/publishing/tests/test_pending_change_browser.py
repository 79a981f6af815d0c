"""Real chromium: an editor saves a pending change to a live article, previews it and publishes
it, while an anonymous reader (a browser of their own, the page cache on) keeps seeing the
published version until the moment of publication. The new admin pages pass axe."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, log_in_to_admin, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery"


@pytest.fixture
def live_article(transactional_db, make_article, make_staff, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    make_staff("edna", "Editor")
    return make_article(
        title="Miners march on Lima",
        body="<p>Two thousand miners marched on Monday.</p>",
    )


def test_editor_previews_then_publishes_a_pending_change_readers_see_only_then(
    live_server, live_article
):
    from playwright.sync_api import sync_playwright

    article_url = live_server.url + live_article.get_absolute_url()
    change_url = f"{live_server.url}/admin/publishing/article/{live_article.pk}/change/"
    seen_by_reader: list[tuple[str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            reader = browser.new_context().new_page()
            editor = browser.new_context().new_page()

            def read(moment: str) -> None:
                reader.goto(article_url)
                seen_by_reader.append((moment, reader.locator(".article-body").inner_text()))

            read("before")
            log_in_to_admin(editor, live_server.url, "edna", PASSWORD)
            editor.goto(change_url)
            body = editor.locator(".ProseMirror:visible").first
            body.wait_for(state="visible")
            body.click()
            editor.keyboard.press("Control+End")
            editor.keyboard.type(" Three unions joined them.")
            editor.click("input[name=_save_pending]")
            editor.wait_for_url(change_url)
            assert (
                editor.locator(".messagelist").inner_text().startswith("Saved as a pending change")
            )
            # The form goes on from the pending change.
            form_body = editor.locator(".ProseMirror:visible").first
            form_body.wait_for(state="visible")
            assert "Three unions joined them." in form_body.inner_text()
            read("pending")

            editor.get_by_role("link", name="Preview it").first.click()
            editor.wait_for_load_state("load")
            preview_text = editor.locator(".article-body").inner_text()
            preview_notice = editor.locator(".preview-notice").inner_text()
            preview_robots = editor.locator("meta[name=robots]").get_attribute("content")
            read("previewed")

            editor.goto(change_url)
            editor.get_by_role("link", name="Revisions").click()
            editor.wait_for_url("**/revisions/")
            revisions_violations = serious_violations(editor)
            editor.get_by_role("button", name="Compare the chosen revisions").click()
            editor.wait_for_url("**/revisions/compare/**")
            inserted = editor.locator("ins").all_inner_texts()
            compare_violations = serious_violations(editor)
            editor.go_back()
            # Publishing posts back to the revisions page: wait for that navigation itself.
            with editor.expect_navigation():
                editor.get_by_role("button", name="Publish this change").click()
            published_message = editor.locator(".messagelist").inner_text()
            read("published")
        finally:
            browser.close()

    assert "Three unions joined them." in preview_text
    assert "not yet published" in preview_notice or "Readers still see" in preview_notice
    assert preview_robots == "noindex"
    assert "Three unions joined them." in " ".join(inserted)
    assert "readers see it now" in published_message
    assert revisions_violations == []
    assert compare_violations == []
    moments = dict(seen_by_reader)
    for moment in ("before", "pending", "previewed"):
        assert "Two thousand miners marched on Monday." in moments[moment], moment
        assert "Three unions" not in moments[moment], moment
    assert "Three unions joined them." in moments["published"]
