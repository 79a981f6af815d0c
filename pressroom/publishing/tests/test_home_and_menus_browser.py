"""In real chromium an editor orders the header menu with the up and down buttons and puts a
lead story on the home page; readers see both; axe finds nothing serious on the home page or on
the new admin pages."""

from __future__ import annotations

import pytest

from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test
PASSWORD = "correct horse battery staple"


@pytest.fixture
def newsroom(transactional_db, make_article, topic, django_user_model, settings):
    from pressroom.publishing import services
    from pressroom.publishing.models import Menu, MenuItem, Topic

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    chile = services.save_topic(Topic(name="Chile"))
    make_article(title="Miners march on Lima")
    lead = make_article(title="Teachers strike in Cusco", topics=[chile])
    # A flushed database (transactional tests) has lost the migration's menus.
    header = Menu.objects.get_or_create(location="header")[0]
    Menu.objects.get_or_create(location="footer")
    MenuItem.objects.create(menu=header, position=1, topic=topic)
    MenuItem.objects.create(menu=header, position=2, topic=chile)
    MenuItem.objects.create(menu=header, position=3, label="About us", url="/about/")
    django_user_model.objects.create_superuser("chief", "chief@example.org", PASSWORD)
    return {"header": header, "lead": lead}


def _log_in(page, base: str, next_path: str) -> None:
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.fill("#id_username", "chief")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_path}")


def test_an_editor_orders_the_header_menu_with_up_and_down(live_server, newsroom):
    header = newsroom["header"]
    change = f"/admin/publishing/menu/{header.pk}/change/"
    with chromium_page() as page:
        _log_in(page, live_server.url, change)
        page.get_by_role("button", name="Move About us up").click()
        page.get_by_role("button", name="Move About us up").click()
        page.get_by_role("button", name="Move Peru down").click()
        assert serious_violations(page) == []
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/publishing/menu/")
        assert serious_violations(page) == []
        page.context.clear_cookies()  # a reader now
        page.goto(live_server.url + "/")
        links = page.locator("nav[aria-label=Main] a").all_inner_texts()
        assert links == ["About us", "Chile", "Peru", "Search"]

    from pressroom.publishing.models import MenuItem

    assert [item.text for item in MenuItem.objects.of_menu("header")] == [
        "About us",
        "Chile",
        "Peru",
    ]


def test_an_editor_chooses_the_lead_story_and_readers_see_it_first(live_server, newsroom):
    with chromium_page() as page:
        _log_in(page, live_server.url, "/admin/publishing/homeslot/add/")
        assert serious_violations(page) == []
        # Django's search-as-you-type select: open it, type, pick.
        page.click(".field-article .select2-selection")
        page.fill(".select2-search__field", "Teachers")
        page.click(".select2-results__option >> text=Teachers strike in Cusco")
        page.select_option("#id_placement", "lead")
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/publishing/homeslot/")
        assert serious_violations(page) == []
        page.context.clear_cookies()
        page.goto(live_server.url + "/")
        assert page.locator(".home-lead h3").inner_text() == newsroom["lead"].title
        assert serious_violations(page) == []
