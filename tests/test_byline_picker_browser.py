"""In real chromium an editor builds a byline in the order they want: add, move up, remove,
and the article shows that order (the multiple select it replaced sorted names)."""

from __future__ import annotations

import pytest

from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test
PASSWORD = "correct horse battery staple"


@pytest.fixture
def newsroom(transactional_db, make_article, author, django_user_model, settings):
    from pressroom.publishing import services
    from pressroom.publishing.models import Author

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    services.save_author(Author(name="Tomás Mensah"))
    services.save_author(Author(name="Zoë Álvarez"))
    article = make_article(authors=[author])  # Ana Quispe
    django_user_model.objects.create_superuser("chief", "chief@example.org", PASSWORD)
    return article


def test_an_editor_orders_the_byline_and_readers_see_that_order(live_server, newsroom):
    article = newsroom
    with chromium_page() as page:
        page.goto(
            live_server.url + f"/admin/login/?next=/admin/publishing/article/{article.pk}/change/"
        )
        page.fill("#id_username", "chief")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"**/admin/publishing/article/{article.pk}/change/")
        page.select_option("#id_authors_chosen", label="Zoë Álvarez")
        page.select_option("#id_authors_chosen", label="Tomás Mensah")
        page.get_by_role("button", name="Move Tomás Mensah up").click()
        page.get_by_role("button", name="Move Tomás Mensah up").click()
        page.get_by_role("button", name="Remove Zoë Álvarez").click()
        chosen = page.locator(".byline-picker__chosen .byline-picker__name").all_inner_texts()
        assert chosen == ["Tomás Mensah", "Ana Quispe"]
        assert serious_violations(page, ".byline-picker") == []
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/publishing/article/")
        page.goto(live_server.url + article.get_absolute_url())
        byline = page.locator("article header .meta, header .meta").first.inner_text()
        assert byline.index("Tomás Mensah") < byline.index("Ana Quispe")
        assert "Zoë Álvarez" not in byline

    article.refresh_from_db()
    assert [a.name for a in article.bylines] == ["Tomás Mensah", "Ana Quispe"]
