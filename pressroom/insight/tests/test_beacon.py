"""The beacon (INSIGHT_COUNTING=beacon): behind nginx's micro-cache, pages nginx answers never
reach Python, so each public page asks for /_count once loaded; the front answers it by itself."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from pressroom.insight.models import PageView
from pressroom.insight.tests.front import keep_test_transaction, serve  # noqa: F401
from pressroom.lib import counting
from pressroom.newsletter.models import Digest, OneOffEmail, SendVisit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_test_transaction")]


@pytest.fixture
def beacon(settings):
    settings.INSIGHT_COUNTING = "beacon"


def test_in_beacon_mode_pages_carry_the_beacon_and_the_front_counts_only_beacons(
    beacon, make_article
):
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    status, _headers, body = serve(path)
    assert status.startswith("200")
    assert b'data-url="/_count"' in body
    assert b"insight/count" in body
    assert b'<noscript><img src="/_count?p=' in body
    _status, _headers, donate = serve("/donate/")
    assert b"/_count" not in donate  # only the pages whose views are counted
    status, headers, answer = serve(
        f"/_count?p={quote(path)}&r={quote('https://example.org/x')}&q=utm_campaign%3Dspring",
        method="POST",
        origin="http://testserver",
        sec_fetch_site="same-origin",
    )
    assert status == "204 No Content"
    assert answer == b""
    assert headers["Cache-Control"] == "no-store"
    counting.flush_counts()
    assert list(PageView.objects.values_list("path", "referrer", "campaign", "views")) == [
        (path, "example.org", "spring", 1)
    ]


def test_the_server_mode_carries_no_beacon_and_ignores_beacons(make_article):
    article = make_article(title="Miners march on Lima")
    _status, _headers, body = serve(article.get_absolute_url())
    assert b"/_count" not in body
    status, _headers, _body = serve(f"/_count?p={quote(article.get_absolute_url())}")
    assert status.startswith("204")
    counting.flush_counts()
    assert PageView.objects.get().views == 1  # the page, not the beacon too


def test_a_beacon_from_a_sends_tagged_link_counts_the_send_visit(beacon, make_article):
    article = make_article(title="Miners march on Lima")
    now = timezone.now()
    send = OneOffEmail.objects.create(
        kind=Digest.Kind.APPEAL,
        subject="Appeal",
        body="<p>Give.</p>",
        status=Digest.Status.SENT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
        started_at=now - timedelta(hours=1),
    )
    tagged = f"{article.get_absolute_url()}?ref=email-{send.pk}"
    serve(tagged)  # the page itself (nginx would have answered it): not counted
    serve(f"/_count?p={quote(article.get_absolute_url())}&q={quote(f'ref=email-{send.pk}')}")
    counting.flush_counts()
    assert SendVisit.objects.get(send=send).visits == 1
    assert PageView.objects.get().campaign == f"email-{send.pk}"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "p=",
        "p=/admin/",
        "p=/donate/",
        "p=https://evil.example/",
        "p=" + "/a" * 400,
        "p=%ff%fe",
        "&".join(f"x{n}=1" for n in range(50)),
        "p=/&" + "r=" * 2000,
    ],
)
def test_malformed_beacons_get_a_clear_400_and_count_nothing(beacon, query):
    status, _headers, body = serve(f"/_count?{query}")
    assert status.startswith("400")
    assert body.startswith(b"This beacon") or body.startswith(b"A beacon")
    assert counting.flush_counts() == {}


def test_beacons_for_made_up_pages_are_dropped_by_the_worker(beacon, make_article):
    make_article(title="Miners march on Lima")
    for path in ("/articles/no-such-story/", "/no-such-page/", "/topics/nowhere/"):
        status, _headers, _body = serve(f"/_count?p={quote(path)}")
        assert status.startswith("204")  # checked off the request path, in the worker
    counting.flush_counts()
    assert PageView.objects.count() == 0


def test_other_methods_are_refused(beacon):
    status, _headers, _body = serve("/_count?p=/", method="PUT")
    assert status.startswith("400")


def test_beacons_from_another_site_count_nothing(beacon, make_article):
    """Review finding 7: a page elsewhere that loads our beacon (an image: Sec-Fetch-Site says
    cross-site) or posts to it (its Origin is not ours) is refused; our own page's count."""
    path = make_article(title="Miners march on Lima").get_absolute_url()
    beacon_url = f"/_count?p={quote(path)}"
    assert serve(beacon_url, sec_fetch_site="cross-site")[0] == "403 Forbidden"
    assert serve(beacon_url, method="POST", origin="https://evil.example")[0] == "403 Forbidden"
    assert serve(beacon_url, method="POST")[0] == "403 Forbidden"  # no Origin at all
    counting.flush_counts()
    assert not PageView.objects.exists()
    assert serve(beacon_url, sec_fetch_site="same-origin")[0] == "204 No Content"
    assert serve(beacon_url, method="POST", origin="http://testserver", address="198.51.100.9")[
        0
    ] == ("204 No Content")
    counting.flush_counts()
    assert PageView.objects.get().views == 2
