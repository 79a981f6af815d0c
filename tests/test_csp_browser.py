"""Under the Content-Security-Policy, real chromium reports no violation: the public pages (with
the campaign banner's script) and the admin, where an editor writes an article in the prose
editor, picks its topic in the filtered select and saves it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import browser_test, chromium_page

pytestmark = browser_test
PASSWORD = "correct horse battery staple"


@pytest.fixture
def live_site(transactional_db, make_article, topic, django_user_model, settings):
    from pressroom.fundraising.demo import create_demo_campaign

    # Static files straight from the apps: the live server does not serve hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    create_demo_campaign()
    article = make_article(
        body='<p>Watch:</p><iframe src="https://www.youtube.com/embed/x" allowfullscreen></iframe>'
    )
    django_user_model.objects.create_superuser("chief", "chief@example.org", PASSWORD)
    return article, topic


def watch_for_violations(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_public_pages_run_under_the_policy_without_a_violation(live_server, live_site):
    article, topic = live_site
    with chromium_page() as page:
        violations = watch_for_violations(page)
        for path in ["/", topic.get_absolute_url(), article.get_absolute_url(), "/donate/"]:
            page.goto(live_server.url + path)
            page.wait_for_load_state("load")
        # The banner's script ran (it shows the dismiss button), so scripts from the site load.
        page.goto(live_server.url + "/")
        expect(page.locator(".campaign-dismiss")).to_be_visible()
        page.locator(".campaign-dismiss").click()
        assert page.locator("#campaign-banner").is_hidden()
    assert violations == []


def test_an_editor_writes_and_saves_an_article_in_the_admin_under_the_policy(
    live_server, live_site
):
    _, topic = live_site
    with chromium_page() as page:
        violations = watch_for_violations(page)
        page.goto(live_server.url + "/admin/login/?next=/admin/publishing/article/add/")
        page.fill("#id_username", "chief")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/publishing/article/add/")
        page.fill("#id_title", "Written under a policy")
        editor = page.locator(".ProseMirror:visible").first
        editor.wait_for(state="visible")
        editor.click()
        page.keyboard.type("Typed in the prose editor.")
        # The filtered select (SelectFilter2.js) moves the topic across.
        page.select_option("#id_topics_chosen_from", label=topic.name)
        page.click("#id_topics_chosen_add")
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/publishing/article/")
        page.goto(live_server.url + "/admin/publishing/article/")
        expect(page.get_by_role("link", name="Written under a policy")).to_be_visible()
    assert violations == []

    from pressroom.publishing.models import Article

    article = Article.objects.get(title="Written under a policy")
    assert "Typed in the prose editor." in article.body
    assert list(article.topics.all()) == [topic]
