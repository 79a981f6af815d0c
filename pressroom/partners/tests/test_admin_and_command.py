"""Editors register partners and work the queue in the admin; operators use
`pressroom partners add|list|fetch`, which answer bad input with one clear line."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pressroom.accounts.roles import CONTRIBUTOR
from pressroom.partners import polling, services
from pressroom.partners.models import Feed, Item, Partner
from pressroom.publishing import services as publishing_services
from pressroom.publishing.models import Article, Topic

pytestmark = pytest.mark.django_db
QUEUE = "/admin/partners/item/"


def run(*arguments: str) -> str:
    out = StringIO()
    call_command("partners", *arguments, stdout=out)
    return out.getvalue()


@pytest.fixture
def queue(feeds, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    peru = publishing_services.save_topic(Topic(name="Peru"))
    bolivia = publishing_services.save_topic(Topic(name="Bolivia"))
    nacla = services.add_partner(
        "NACLA",
        [feeds.serve_file("/nacla.xml", "nacla-rss2.xml")],
        licence="CC BY-NC-ND 4.0",
        topics=[peru],
        full_text=True,
    )
    upside = services.add_partner(
        "Upside", [feeds.serve_file("/atom", "upside-atom.xml", "application/atom+xml")]
    )
    polling.fetch_partner()
    return nacla, upside, peru, bolivia


def titles(response) -> list[str]:
    return [item.title for item in response.context["cl"].result_list]


def test_the_queue_is_newest_first_filters_by_partner_and_topic_and_searches(editor_client, queue):
    _nacla, upside, peru, bolivia = queue
    response = editor_client.get(QUEUE)
    assert response.status_code == 200
    assert titles(response) == [
        "Peru’s Miners March on Lima",
        "Bolivia's lithium: who decides?",
        "Water defenders win in Cajamarca",
    ]
    assert titles(editor_client.get(QUEUE, {"partner__id__exact": upside.pk})) == [
        "Bolivia's lithium: who decides?"
    ]
    assert titles(editor_client.get(QUEUE, {"topic": peru.pk})) == [
        "Peru’s Miners March on Lima",
        "Water defenders win in Cajamarca",
    ]
    assert titles(editor_client.get(QUEUE, {"topic": bolivia.pk})) == [
        "Bolivia's lithium: who decides?"  # by the item's own category
    ]
    assert titles(editor_client.get(QUEUE, {"q": "conga"})) == ["Water defenders win in Cajamarca"]
    page = response.content.decode()
    assert "Thousands of informal miners reached the capital." in page  # the summary


def test_an_editor_republishes_schedules_dismisses_and_undoes_from_an_items_page(
    editor_client, queue
):
    nacla, *_ = queue
    item = nacla.items.get(guid="nacla-1001")
    url = f"{QUEUE}{item.pk}/change/"
    page = editor_client.get(url)
    assert page.status_code == 200
    assert "Republish now" in page.content.decode()
    response = editor_client.post(url, {"action": "now"}, follow=True)
    assert "Republished “Peru’s Miners March on Lima” now." in response.content.decode()
    assert Article.objects.get().is_public

    other = nacla.items.get(guid="nacla-1000")
    url = f"{QUEUE}{other.pk}/change/"
    # Bad input re-renders with the error and changes nothing.
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = editor_client.post(url, {"action": "schedule", "at": past})
    assert response.status_code == 200
    assert "Choose a time in the future." in response.content.decode()
    response = editor_client.post(url, {"action": "explode"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    other.refresh_from_db()
    assert other.state == Item.State.NEW

    response = editor_client.post(url, {"action": "dismiss"}, follow=True)
    assert "Dismissed “Water defenders win in Cajamarca”." in response.content.decode()
    assert "Water defenders" not in "".join(titles(response))
    editor_client.post(url, {"action": "undo"})
    later = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    editor_client.post(url, {"action": "schedule", "at": later})
    article = Article.objects.get(title="Water defenders win in Cajamarca")
    assert article.status == Article.Status.SCHEDULED
    # Acting twice (a double click, a second editor) is a message, not a 500.
    response = editor_client.post(url, {"action": "now"}, follow=True)
    assert response.status_code == 200
    assert "is republished already" in response.content.decode()


def test_open_as_draft_lands_on_the_article_and_bulk_actions_work(editor_client, queue):
    nacla, upside, *_ = queue
    item = upside.items.get()
    response = editor_client.post(f"{QUEUE}{item.pk}/change/", {"action": "draft"})
    article = Article.objects.get(title=item.title)
    # Upside's feed is not marked full text: the editor is told to paste it.
    assert response.url == f"/admin/publishing/article/{article.pk}/change/"
    ids = list(nacla.items.values_list("pk", flat=True))
    editor_client.post(QUEUE, {"action": "dismiss", "_selected_action": ids})
    assert set(nacla.items.values_list("state", flat=True)) == {"dismissed"}
    editor_client.post(
        QUEUE + "?show=dismissed", {"action": "undo_dismiss", "_selected_action": ids}
    )
    editor_client.post(QUEUE, {"action": "republish_now", "_selected_action": ids})
    assert set(nacla.items.values_list("state", flat=True)) == {"republished"}
    assert Article.objects.published().count() == 2


def test_a_contributor_cannot_republish_from_the_queue(make_staff, client, queue):
    nacla, *_ = queue
    client.force_login(make_staff("cora", CONTRIBUTOR.name))
    item = nacla.items.get(guid="nacla-1001")
    assert client.post(f"{QUEUE}{item.pk}/change/", {"action": "now"}).status_code == 403
    assert not Article.objects.exists()


def test_partners_and_feeds_are_listed_with_last_fetch_status_and_counts(editor_client, queue):
    page = editor_client.get("/admin/partners/partner/").content.decode()
    assert "NACLA" in page
    assert "CC BY-NC-ND 4.0" in page
    feeds_page = editor_client.get("/admin/partners/feed/")
    assert feeds_page.status_code == 200
    rows = feeds_page.context["cl"].result_list
    assert {(feed.partner.name, feed.status, feed.items_seen) for feed in rows} == {
        ("NACLA", "ok", 2),
        ("Upside", "ok", 1),  # its other item is the march NACLA brought first
    }
    assert all(feed.last_fetched_at for feed in rows)


def test_an_editor_adds_a_partner_with_a_feed_in_the_admin(editor_client, db):
    peru = publishing_services.save_topic(Topic(name="Peru"))
    response = editor_client.post(
        "/admin/partners/partner/add/",
        {
            "name": "Ojo Público",
            "site_url": "https://ojo.example/",
            "licence": "by agreement",
            "topics": [peru.pk],
            "full_text": "on",
            "allowed_authors": "",
            "feeds-TOTAL_FORMS": "1",
            "feeds-INITIAL_FORMS": "0",
            "feeds-0-url": "https://ojo.example/feed/",
            "feeds-0-interval_minutes": "60",
            "feeds-0-is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    partner = Partner.objects.get()
    assert list(partner.topics.all()) == [peru]
    assert partner.feeds.get().interval_minutes == 60


def test_the_command_adds_lists_and_fetches(feeds, db):
    publishing_services.save_topic(Topic(name="Peru"))
    url = feeds.serve_file("/nacla.xml", "nacla-rss2.xml")
    out = run(
        "add", "NACLA", url, "--licence", "CC BY-NC-ND 4.0", "--topics", "peru", "--full-text"
    )
    assert out == "Added NACLA with 1 feed.\n"
    partner = Partner.objects.get()
    assert partner.full_text
    assert partner.licence == "CC BY-NC-ND 4.0"
    assert [topic.name for topic in partner.topics.all()] == ["Peru"]
    assert run("fetch", "nacla") == f"{url}: 2 new, 0 already known, 0 failed\n"
    assert run("fetch") == f"{url}: not modified since the last fetch\n"
    listing = run("list")
    assert "NACLA — CC BY-NC-ND 4.0; 2 in the queue, 0 republished" in listing
    assert f"{url}  Not modified, last fetch" in listing
    assert "2 items" in listing


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["add", "X", "ftp://example.org/feed"],
            "'ftp://example.org/feed' is not an http(s) address",
        ),
        (
            ["add", "X", "https://x.example/feed", "--topics", "nowhere"],
            "no topic called 'nowhere'; create it first",
        ),
        (
            ["add", "X", "https://x.example/feed", "--interval", "1"],
            "the fetch interval is 5 minutes to a week",
        ),
        (["add", "   ", "https://x.example/feed"], "a partner's name is 1 to 200 characters long"),
        (["fetch", "Nobody"], "no partner called 'Nobody'"),
        (
            ["add", "X", "https://x.example/feed", "--site", "javascript:alert(1)//"],
            "'javascript:alert(1)//' is not an http(s) address",
        ),
        (
            ["add", "X", "https://x.example/feed", "--site", "nacla.org"],
            "'nacla.org' is not an http(s) address",
        ),
    ],
)
def test_the_command_refuses_bad_input_with_one_clear_line(db, arguments, message):
    with pytest.raises(CommandError) as error:
        run(*arguments)
    assert str(error.value) == message
    assert not Partner.objects.exists()


def test_the_command_refuses_a_partner_or_feed_twice_and_fails_on_a_failing_feed(feeds, db):
    run("add", "NACLA", feeds.url + "/gone.xml")
    with pytest.raises(CommandError, match="there is already a partner called 'nacla'"):
        run("add", "nacla", feeds.url + "/other.xml")
    with pytest.raises(CommandError, match=r"/gone\.xml is already a feed of NACLA"):
        run("add", "Other", feeds.url + "/gone.xml")
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1 feeds failed"):
        call_command("partners", "fetch", stdout=out)
    assert out.getvalue() == f"{feeds.url}/gone.xml: failed: the server answered HTTP 404\n"
    assert Feed.objects.get().status == Feed.Status.FAILED
