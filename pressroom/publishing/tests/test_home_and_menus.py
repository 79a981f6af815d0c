"""Editors shape the site: the home page's lead and featured stories (with an expiry, the newest
filling any gap) and the header and footer menus, edited in the admin. Readers see every change
at once on cached pages, through the admin's real save and its commit."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.curation import MENU_MAX_ITEMS, HomeSlot, Menu, MenuItem
from pressroom.publishing.models import Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader() -> Client:
    """An anonymous reader with a browser of their own (no cookies)."""
    return Client(HTTP_ACCEPT_ENCODING="")


@pytest.fixture
def newsroom(make_article):
    """Six published stories, the newest last, one hour apart."""
    now = timezone.now()
    titles = ["Alpha march", "Bravo strike", "Charlie vote", "Delta flood", "Echo trial", "Foxtrot"]
    return {
        title: make_article(title=title, published_at=now - timedelta(hours=10 - index))
        for index, title in enumerate(titles)
    }


def _sections(html: str) -> dict[str, list[str]]:
    """The home page's story titles per section (lead, featured, latest), in page order."""
    found: dict[str, list[str]] = {}
    pattern = r'<section class="home-(lead|featured)"(.*?)</section>'
    for name, section in re.findall(pattern, html, re.S):
        found[name] = re.findall(r"<h3><a [^>]*>([^<]+)</a>", section)
    latest = html.split('id="latest"', 1)[1].split("</section>", 1)[0]
    found["latest"] = re.findall(r"<h3><a [^>]*>([^<]+)</a>", latest)
    return found


def test_without_choices_the_home_page_shows_the_newest_first(newsroom, reader):
    sections = _sections(reader.get("/").content.decode())
    assert sections["lead"] == ["Foxtrot"]
    assert sections["featured"] == ["Echo trial", "Delta flood", "Charlie vote", "Bravo strike"]
    assert sections["latest"] == ["Alpha march"]


def test_chosen_lead_and_featured_come_first_in_the_editors_order_then_the_rest(newsroom, reader):
    HomeSlot.objects.create(article=newsroom["Bravo strike"], placement="lead")
    HomeSlot.objects.create(article=newsroom["Alpha march"], position=2)
    HomeSlot.objects.create(article=newsroom["Delta flood"], position=1)
    sections = _sections(reader.get("/").content.decode())
    assert sections["lead"] == ["Bravo strike"]
    # The two chosen in their order, then the newest fill the remaining featured places.
    assert sections["featured"] == ["Delta flood", "Alpha march", "Foxtrot", "Echo trial"]
    assert sections["latest"] == ["Charlie vote"]
    everything = [title for titles in sections.values() for title in titles]
    assert sorted(everything) == sorted(newsroom)  # each once, none left out


def test_an_expired_choice_gives_way_to_the_newest(newsroom, reader):
    past = timezone.now() - timedelta(minutes=1)
    HomeSlot.objects.create(article=newsroom["Alpha march"], placement="lead", expires_at=past)
    HomeSlot.objects.create(article=newsroom["Bravo strike"], expires_at=past)
    # As if nothing had been chosen: each back in its place among the newest.
    assert _sections(reader.get("/").content.decode()) == {
        "lead": ["Foxtrot"],
        "featured": ["Echo trial", "Delta flood", "Charlie vote", "Bravo strike"],
        "latest": ["Alpha march"],
    }


def test_a_later_lead_takes_over_when_the_first_expires(newsroom):
    from pressroom.publishing.listings import chosen_for_home

    HomeSlot.objects.create(
        article=newsroom["Alpha march"],
        placement="lead",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    HomeSlot.objects.create(article=newsroom["Charlie vote"], placement="lead", position=5)
    lead, featured = chosen_for_home()
    assert lead is not None
    assert lead.title == "Charlie vote"
    assert featured == []


def test_a_story_readers_cannot_see_is_never_shown(newsroom, make_article, reader):
    draft = make_article(title="Unfinished draft", status="draft")
    later = make_article(
        title="Embargoed report",
        status="scheduled",
        published_at=timezone.now() + timedelta(days=1),
    )
    HomeSlot.objects.create(article=draft, placement="lead")
    HomeSlot.objects.create(article=later)
    unpublished = newsroom["Echo trial"]
    HomeSlot.objects.create(article=unpublished, position=1)
    services.unpublish_article(unpublished)
    html = reader.get("/").content.decode()
    for title in ["Unfinished draft", "Embargoed report", "Echo trial"]:
        assert title not in html
    assert _sections(html)["lead"] == ["Foxtrot"]


def test_an_expiry_shows_on_the_cached_home_page_when_it_comes(
    newsroom, reader, django_capture_on_commit_callbacks
):
    """Nothing is saved when a story expires: its moment is registered with the page cache."""
    soon = timezone.now() + timedelta(seconds=1.5)
    with django_capture_on_commit_callbacks(execute=True):  # as the admin's save does
        HomeSlot.objects.create(article=newsroom["Alpha march"], placement="lead", expires_at=soon)
        services.announce_change()
    assert reader.get("/").status_code == 200
    cached = reader.get("/")
    assert cached["X-Page-Cache"] == "hit"
    assert timezone.now() >= soon or _sections(cached.content.decode())["lead"] == ["Alpha march"]
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.2)
    response = reader.get("/")
    assert response["X-Page-Cache"] == "miss"
    assert _sections(response.content.decode())["lead"] == ["Foxtrot"]


def test_later_pages_of_the_home_page_are_the_newest_only(make_article, reader, settings):
    settings.ARTICLES_PER_PAGE = 2
    now = timezone.now()
    stories = [
        make_article(title=f"Story {n}", published_at=now - timedelta(hours=n)) for n in range(5)
    ]
    HomeSlot.objects.create(article=stories[4], placement="lead")
    first = reader.get("/").content.decode()
    older = re.search(r'href="(\?before=[^"]+)"', first)
    assert older is not None
    html = reader.get("/" + older.group(1).replace("&amp;", "&")).content.decode()
    assert 'class="home-lead"' not in html
    assert "Story 2" in html


# Menus --------------------------------------------------------------------------------------


def _menu(location: str) -> Menu:
    return Menu.objects.get_or_create(location=location)[0]


def _nav(html: str, label: str) -> list[str]:
    part = html.split(f'aria-label="{label}"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r"<li><a [^>]*>([^<]+)</a></li>", part)


def test_the_migration_made_a_header_and_a_footer_menu():
    assert set(Menu.objects.values_list("location", flat=True)) == {"header", "footer"}


def test_an_empty_header_menu_keeps_the_featured_topics(reader, make_article):
    services.save_topic(Topic(name="Chile", is_featured=True))
    services.save_topic(Topic(name="Bolivia", is_featured=True))
    make_article()
    html = reader.get("/").content.decode()
    assert _nav(html, "Main") == ["Bolivia", "Chile", "All topics", "Search"]


def _item_form(prefix_index: int, **values: object) -> dict[str, object]:
    data = {"position": "", "label": "", "topic": "", "url": "", "id": "", "menu": ""}
    data.update(values)
    return {f"items-{prefix_index}-{key}": value for key, value in data.items()}


def _menu_post(menu: Menu, *items: dict[str, object]) -> dict[str, object]:
    existing = list(menu.items.all())
    data: dict[str, object] = {
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(len(existing)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": str(MENU_MAX_ITEMS),
        "_save": "Save",
    }
    for index, item in enumerate(items):
        data.update(_item_form(index, menu=menu.pk, **item))
    return data


def test_an_editor_builds_the_header_menu_in_any_order_and_readers_see_it_at_once(
    editor_client, reader, make_article, topic, django_capture_on_commit_callbacks
):
    make_article()
    header = _menu("header")
    assert reader.get("/topics/peru/").status_code == 200
    assert reader.get("/topics/peru/")["X-Page-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            f"/admin/publishing/menu/{header.pk}/change/",
            _menu_post(
                header,
                {"position": 2, "topic": topic.pk},
                {"position": 1, "label": "About us", "url": "/about/"},
                {"position": 3, "label": "Partner outlet", "url": "https://partner.example/"},
            ),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    html = reader.get("/topics/peru/").content.decode()
    assert _nav(html, "Main") == ["About us", "Peru", "Partner outlet", "Search"]
    assert '<a href="https://partner.example/">Partner outlet</a>' in html

    # Reordered: the topic first now.
    items = {item.text: item for item in header.items.all()}
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(
            f"/admin/publishing/menu/{header.pk}/change/",
            _menu_post(
                header,
                *[
                    {
                        "id": item.pk,
                        "position": {"Peru": 1, "About us": 2, "Partner outlet": 3}[name],
                        "label": item.label,
                        "topic": item.topic_id or "",
                        "url": item.url,
                    }
                    for name, item in items.items()
                ],
            ),
        )
    assert _nav(reader.get("/topics/peru/").content.decode(), "Main") == [
        "Peru",
        "About us",
        "Partner outlet",
        "Search",
    ]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("javascript:alert(1)", "a script"),
        ("JavaScript:alert(document.cookie)", "a script in capitals"),
        ("data:text/html,<b>x</b>", "a data address"),
        ("//evil.example/", "a protocol-relative address"),
        ("ftp://files.example/", "another scheme"),
        ("/path with space", "a space"),
    ],
)
def test_a_bad_address_is_refused_with_a_clear_message(editor_client, address, why):
    footer = _menu("footer")
    response = editor_client.post(
        f"/admin/publishing/menu/{footer.pk}/change/",
        _menu_post(footer, {"position": 1, "label": "Click me", "url": address}),
    )
    assert response.status_code == 200, why
    assert "Enter a web address starting with http:// or https://" in response.content.decode()
    assert not MenuItem.objects.exists()


def test_an_overlong_address_is_refused(editor_client):
    footer = _menu("footer")
    response = editor_client.post(
        f"/admin/publishing/menu/{footer.pk}/change/",
        _menu_post(footer, {"label": "Long", "url": "https://" + "a" * 600 + ".example/"}),
    )
    assert "Ensure this value has at most 500 characters" in response.content.decode()
    assert not MenuItem.objects.exists()


def test_an_item_needs_one_target_and_a_bounded_label(editor_client, topic):
    footer = _menu("footer")
    both = editor_client.post(
        f"/admin/publishing/menu/{footer.pk}/change/",
        _menu_post(footer, {"position": 1, "label": "Two", "topic": topic.pk, "url": "/x/"}),
    )
    assert "Choose one target: a topic, a page or an address." in both.content.decode()
    unlabelled = editor_client.post(
        f"/admin/publishing/menu/{footer.pk}/change/",
        _menu_post(footer, {"position": 1, "url": "/contact/"}),
    )
    assert "An address needs a label readers will see." in unlabelled.content.decode()
    long_label = editor_client.post(
        f"/admin/publishing/menu/{footer.pk}/change/",
        _menu_post(footer, {"position": 1, "label": "x" * 61, "url": "/contact/"}),
    )
    assert "Ensure this value has at most 60 characters" in long_label.content.decode()
    assert not MenuItem.objects.exists()


def test_a_menu_holds_a_bounded_number_of_links(editor_client):
    footer = _menu("footer")
    too_many = [{"position": n, "label": f"Link {n}", "url": f"/{n}/"} for n in range(31)]
    response = editor_client.post(
        f"/admin/publishing/menu/{footer.pk}/change/", _menu_post(footer, *too_many)
    )
    assert response.status_code == 200
    assert "at most 30" in response.content.decode()
    assert not MenuItem.objects.exists()


def test_the_footer_menu_shows_before_the_feeds(reader, make_article):
    make_article()
    footer = _menu("footer")
    MenuItem.objects.create(menu=footer, position=1, label="Contact", url="/contact/")
    MenuItem.objects.create(menu=footer, position=2, label="Mastodon", url="https://m.example/@x")
    html = reader.get("/").content.decode()
    footer_html = html.split('class="site-footer"', 1)[1]
    links = re.findall(r"<li><a [^>]*>([^<]+)</a></li>", footer_html)
    # The editors' links first, then the site's own (the digest, the feeds...).
    assert links[:3] == ["Contact", "Mastodon", "Daily Digest"]
    assert "RSS" in links[3:]


def test_a_home_page_choice_made_in_the_admin_shows_on_the_cached_home_page_at_once(
    newsroom, editor_client, reader, django_capture_on_commit_callbacks
):
    assert reader.get("/").status_code == 200
    assert reader.get("/")["X-Page-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            "/admin/publishing/homeslot/add/",
            {"article": newsroom["Charlie vote"].pk, "placement": "lead", "position": 0},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _sections(reader.get("/").content.decode())["lead"] == ["Charlie vote"]

    slot = HomeSlot.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(f"/admin/publishing/homeslot/{slot.pk}/delete/", {"post": "yes"})
    assert _sections(reader.get("/").content.decode())["lead"] == ["Foxtrot"]


def test_the_home_page_choices_and_menus_are_read_once_per_content_generation(
    newsroom, django_assert_num_queries
):
    """Like the navigation: while public requests are answered under one generation, the
    choices and the menus are read once, then every render uses what was kept."""
    from pressroom.lib.pagecache.generation import serving
    from pressroom.publishing import listings

    MenuItem.objects.create(menu=_menu("header"), position=1, label="About", url="/about/")
    HomeSlot.objects.create(article=newsroom["Alpha march"], placement="lead")
    with serving("one generation"):
        first = (listings.cached_menu_links("header"), listings.home_front([]).lead)
        with django_assert_num_queries(0):
            again = (listings.cached_menu_links("header"), listings.home_front([]).lead)
    assert again == first
    assert first[0] == [listings.MenuLink("About", "/about/")]
    assert first[1] is not None
    assert first[1].title == "Alpha march"
    with serving("the next generation"), django_assert_num_queries(4):
        # The menu (one query), the lead, the featured and their bylines (three).
        listings.cached_menu_links("header"), listings.home_front([])


def test_editing_the_list_of_home_stories_shows_at_once(
    newsroom, editor_client, reader, django_capture_on_commit_callbacks
):
    """The change list's editable columns (placement, position, shown until) are saves too."""
    with django_capture_on_commit_callbacks(execute=True):
        slot = HomeSlot.objects.create(article=newsroom["Alpha march"], placement="lead")
        services.announce_change()
    assert _sections(reader.get("/").content.decode())["lead"] == ["Alpha march"]
    assert reader.get("/")["X-Page-Cache"] == "hit"
    yesterday = timezone.localtime() - timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            "/admin/publishing/homeslot/",
            {
                "form-TOTAL_FORMS": "1",
                "form-INITIAL_FORMS": "1",
                "form-MIN_NUM_FORMS": "0",
                "form-MAX_NUM_FORMS": "1000",
                "form-0-id": slot.pk,
                "form-0-placement": "lead",
                "form-0-position": "1",
                "form-0-expires_at_0": yesterday.strftime("%Y-%m-%d"),
                "form-0-expires_at_1": yesterday.strftime("%H:%M:%S"),
                "_save": "Save",
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    slot.refresh_from_db()
    assert slot.expires_at is not None
    assert not slot.is_showing
    assert _sections(reader.get("/").content.decode())["lead"] == ["Foxtrot"]


def test_a_menu_links_a_page_while_it_is_published_and_follows_it_when_it_moves(
    editor_client, reader, make_article, django_capture_on_commit_callbacks
):
    from pressroom.publishing.models import Page

    make_article()
    with django_capture_on_commit_callbacks(execute=True):
        page = services.publish_page(services.save_page(Page(title="Contact", body="<p>x</p>")))
    footer = _menu("footer")
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            f"/admin/publishing/menu/{footer.pk}/change/",
            _menu_post(footer, {"position": 1, "page": page.pk}),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert '<a href="/contact/">Contact</a>' in reader.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        page.slug = "write-to-us"
        services.save_page(page)
    assert '<a href="/write-to-us/">Contact</a>' in reader.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.unpublish_page(page)
    assert "/write-to-us/" not in reader.get("/").content.decode()  # readers cannot see it


def test_an_address_with_credentials_that_reads_as_ours_is_refused():
    from django.core.exceptions import ValidationError

    from pressroom.publishing.curation import validate_menu_url

    with pytest.raises(ValidationError):
        validate_menu_url("https://ourpaper.example@evil.example/")
    validate_menu_url("https://partner.example/republish/")  # an ordinary address passes


def test_leads_waiting_their_turn_never_take_the_featured_stories_places(make_article):
    from pressroom.publishing.listings import HOME_FEATURED_COUNT, chosen_for_home

    for number in range(HOME_FEATURED_COUNT + 12):
        HomeSlot.objects.create(
            article=make_article(title=f"Lead {number}"), placement="lead", position=number
        )
    HomeSlot.objects.create(article=make_article(title="Featured one"), position=1)
    lead, featured = chosen_for_home()
    assert lead is not None
    assert lead.title == "Lead 0"
    assert [teaser.title for teaser in featured] == ["Featured one"]
