"""A second fediverse server, whose signature code is not ours (httpsig, http-message-signatures),
follows the site over real HTTP on loopback: it finds the handle by WebFinger, signs its Follow,
receives our Accept and the Create of a new article and verifies both with its own library, and
its Undo works."""

from __future__ import annotations

import json

import pytest
import requests
from django.core.management import call_command

from pressroom.federation.models import Follower
from pressroom.federation.tests.remote import RemoteServer
from pressroom.publishing import services
from pressroom.publishing.models import Article

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(live_server, settings):
    settings.SITE_URL = live_server.url
    settings.ALLOWED_HOSTS = ["*"]
    return live_server.url


def discover(base: str) -> dict:
    """What a fediverse server does with @news@host: WebFinger, then the actor document."""
    host = base.split("://", 1)[1]
    finger = requests.get(
        f"{base}/.well-known/webfinger", params={"resource": f"acct:news@{host}"}, timeout=10
    )
    assert finger.status_code == 200
    [link] = [link for link in finger.json()["links"] if link["rel"] == "self"]
    actor = requests.get(link["href"], headers={"Accept": "application/activity+json"}, timeout=10)
    assert actor.headers["Content-Type"] == "application/activity+json"
    return actor.json()


def post(remote: RemoteServer, url: str, activity: dict, dialect: str = "cavage") -> int:
    body = json.dumps(activity).encode()
    if dialect == "cavage":
        headers = remote.cavage_headers(url, body)
    else:
        headers = remote.rfc9421_headers(url, body)
    headers.pop("Host", None)
    return requests.post(url, data=body, headers=headers, timeout=10).status_code


def published(title: str) -> Article:
    from django.utils import timezone

    return services.save_article(
        Article(
            title=title,
            body="<p>Reported from Lima.</p>",
            status=Article.Status.PUBLISHED,
            published_at=timezone.now(),
        )
    )


@pytest.mark.parametrize("dialect", ["cavage", "rfc9421"])
def test_a_second_implementation_follows_gets_a_verified_accept_and_create_and_undoes(
    site, settings, dialect
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # both servers are on loopback
    with RemoteServer("alice") as remote:
        actor = discover(site)
        follow = remote.activity("Follow", actor["id"])
        assert post(remote, actor["inbox"], follow, dialect) == 202
        call_command("worker", batch=True, verbosity=0)

        public_pem = actor["publicKey"]["publicKeyPem"]
        [accept] = remote.received
        assert accept.activity["type"] == "Accept"
        assert accept.activity["object"]["id"] == follow["id"]
        assert remote.verify(accept, public_pem)  # httpsig checks our signature

        article = published("Strike ends in Lima")
        call_command("worker", batch=True, verbosity=0)
        create = remote.received[-1]
        assert create.activity["type"] == "Create"
        assert create.activity["object"]["name"] == "Strike ends in Lima"
        assert remote.verify(create, public_pem)
        # The object an Announce would point at answers over HTTP too.
        fetched = requests.get(
            create.activity["object"]["id"],
            headers={"Accept": "application/activity+json"},
            timeout=10,
        ).json()
        assert fetched["url"].endswith(article.get_absolute_url())

        undo = remote.activity("Undo", follow, number=2)
        assert post(remote, actor["endpoints"]["sharedInbox"], undo, dialect) == 202
        assert not Follower.objects.exists()
        published("Nobody follows now")
        call_command("worker", batch=True, verbosity=0)
        assert len(remote.received) == 2


def test_a_tampered_delivery_fails_the_second_implementations_check(site, settings):
    """The check above is not vacuous: httpsig refuses our delivery once its body changed."""
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with RemoteServer("alice") as remote:
        actor = discover(site)
        assert post(remote, actor["inbox"], remote.activity("Follow", actor["id"])) == 202
        call_command("worker", batch=True, verbosity=0)
        [accept] = remote.received
        accept.headers["Date"] = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert not remote.verify(accept, actor["publicKey"]["publicKeyPem"])
