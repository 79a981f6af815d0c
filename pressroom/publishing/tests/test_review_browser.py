"""Real chromium: a contributor's article goes through review to publication, then an editor
corrects it, restores an older revision, and a source reads a draft through a preview link
(issue 13, point 8). axe-core checks every page issue 13 added that the walk visits: the
review queue and the review panel, revisions and their comparison, the restore page, the
preview page and /corrections/."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from pressroom.publishing import services
from pressroom.publishing.models import Article, Author, ReviewComment
from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_test, log_in_to_admin, serious_violations

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery"
TITLE = "Water rights in Cusco"


@pytest.fixture
def newsroom(transactional_db, make_staff, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cora = make_staff("cora", "Contributor")
    services.save_author(Author(name="Cora Vega", user=cora))
    make_staff("edna", "Editor")
    return cora


def log_in(page, base: str, username: str) -> None:
    log_in_to_admin(page, base, username, PASSWORD)


def type_into_body(page, text: str) -> None:
    body = page.locator(".ProseMirror:visible").first
    body.wait_for(state="visible")
    body.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def test_a_submission_goes_through_review_to_readers_then_is_corrected_and_restored(
    live_server, newsroom
):
    from playwright.sync_api import sync_playwright

    base = live_server.url
    violations: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            contributor = browser.new_context().new_page()
            editor = browser.new_context().new_page()
            source = browser.new_context().new_page()  # no account
            reader = browser.new_context().new_page()

            # Cora writes a draft (her byline is there already) and keeps editing it.
            log_in(contributor, base, "cora")
            contributor.goto(f"{base}/admin/publishing/article/add/")
            seen["byline"] = contributor.locator(".byline-picker__chosen").inner_text()
            contributor.fill("#id_title", TITLE)
            type_into_body(contributor, "The river is drying, farmers say.")
            contributor.click("input[name=_continue]")
            contributor.wait_for_url("**/change/")
            change_path = urlsplit(contributor.url).path

            # A source checks a quote through a preview link, without an account.
            contributor.get_by_role("link", name="Revisions").click()
            contributor.wait_for_url("**/revisions/")
            # The form posts back to the same address: wait for that navigation, not the URL.
            with contributor.expect_navigation():
                contributor.get_by_role("button", name="Make a preview link").click()
            link = contributor.locator("a.preview-link").get_attribute("href")
            source.goto(base + urlsplit(link).path)
            seen["preview"] = source.locator(".article-body").inner_text()
            seen["preview robots"] = source.locator("meta[name=robots]").get_attribute("content")
            violations["preview page"] = serious_violations(source)

            # She submits it with a note.
            contributor.goto(base + change_path)
            contributor.fill("#id_review_note", "Quotes checked with the farmers.")
            contributor.click("input[name=_submit_for_review]")
            contributor.wait_for_url("**/article/")
            seen["submitted message"] = contributor.locator(".messagelist").inner_text()

            # Edna finds it in the review queue and sends it back with a comment.
            log_in(editor, base, "edna")
            editor.goto(f"{base}/admin/publishing/article/")
            editor.get_by_role("link", name="Review queue (1)").click()
            editor.wait_for_url("**/review-queue/")
            seen["queue"] = editor.locator("#content-main").inner_text()
            violations["review queue"] = serious_violations(editor)
            editor.get_by_role("link", name=TITLE).click()
            editor.wait_for_url("**" + change_path)
            violations["review panel"] = serious_violations(editor, ".review-panel")
            editor.fill("#review-text", "Name the second source, please.")
            editor.get_by_role("button", name="Send back").click()
            editor.wait_for_url("**" + change_path)
            seen["sent back message"] = editor.locator(".messagelist").inner_text()

            # Cora reads the comment, fixes the piece and submits it again.
            contributor.goto(base + change_path)
            seen["comment shown"] = contributor.locator(".review-panel").inner_text()
            violations["review panel (contributor)"] = serious_violations(
                contributor, ".review-panel"
            )
            type_into_body(contributor, " Second source: the union's lawyer.")
            contributor.fill("#id_review_note", "Source named.")
            contributor.click("input[name=_submit_for_review]")
            contributor.wait_for_url("**/article/")

            # Edna publishes it; readers see it.
            editor.goto(f"{base}/admin/publishing/article/review-queue/")
            editor.get_by_role("link", name=TITLE).click()
            editor.wait_for_url("**" + change_path)
            editor.fill("#review-text", "Thanks, Cora.")
            editor.get_by_role("button", name="Publish", exact=True).click()
            editor.wait_for_url("**" + change_path)
            seen["published message"] = editor.locator(".messagelist").inner_text()
            reader.goto(base + "/")
            article_link = reader.get_by_role("link", name=TITLE).first
            article_path = urlsplit(article_link.get_attribute("href")).path
            reader.goto(base + article_path)
            seen["published"] = reader.locator(".article-body").inner_text()

            # A correction, shown on the article and on /corrections/.
            editor.goto(base + change_path)
            editor.fill("textarea[name='corrections-0-text']", "The river is the Vilcanota.")
            editor.click("input[name=_save]")
            editor.wait_for_url("**/article/")
            reader.goto(base + article_path)
            seen["correction on article"] = reader.locator("body").inner_text()
            reader.goto(f"{base}/corrections/")
            seen["corrections page"] = reader.locator("main").inner_text()
            violations["corrections page"] = serious_violations(reader)

            # Revisions: compare, then restore the first one (the piece before the fix).
            editor.goto(base + change_path)
            editor.get_by_role("link", name="Revisions").click()
            editor.wait_for_url("**/revisions/")
            violations["revisions"] = serious_violations(editor)
            editor.get_by_label("Compare from revision 1", exact=True).check()
            editor.get_by_role("button", name="Compare the chosen revisions").click()
            editor.wait_for_url("**/revisions/compare/**")
            seen["compare"] = " ".join(editor.locator("ins").all_inner_texts())
            violations["compare"] = serious_violations(editor)
            editor.go_back()
            editor.get_by_role("link", name="Restore revision 1", exact=True).click()
            editor.wait_for_url("**/revisions/1/restore/")
            violations["restore page"] = serious_violations(editor)
            editor.get_by_role("button", name="Restore revision 1").click()
            editor.wait_for_url("**/revisions/")
            seen["restored message"] = editor.locator(".messagelist").inner_text()
            reader.goto(base + article_path)
            seen["restored"] = reader.locator(".article-body").inner_text()
        finally:
            browser.close()

    assert "Cora Vega" in seen["byline"]
    assert "The river is drying, farmers say." in seen["preview"]
    assert seen["preview robots"] == "noindex"
    assert "Submitted for review" in seen["submitted message"]
    assert TITLE in seen["queue"]
    assert "Quotes checked with the farmers." in seen["queue"]
    assert "Sent back" in seen["sent back message"]
    assert "Name the second source, please." in seen["comment shown"]
    assert "Published" in seen["published message"]
    assert "Second source: the union's lawyer." in seen["published"]
    assert "The river is the Vilcanota." in seen["correction on article"]
    assert "The river is the Vilcanota." in seen["corrections page"]
    assert "Second source" in seen["compare"]
    assert "restored" in seen["restored message"]
    assert "Second source" not in seen["restored"]
    assert "The river is drying, farmers say." in seen["restored"]
    assert violations == {page: [] for page in violations}
    article = Article.objects.get()
    assert article.is_public
    assert list(ReviewComment.objects.values_list("action", flat=True)) == [
        "submitted",
        "sent_back",
        "submitted",
        "published",
    ]
