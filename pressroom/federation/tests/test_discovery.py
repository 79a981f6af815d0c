"""WebFinger, NodeInfo, actor documents, outboxes, follower counts and article objects."""

from __future__ import annotations

import pytest

from pressroom.federation import documents
from pressroom.federation.models import SITE_ACTOR, ActorKey, Follower, topic_actor

pytestmark = pytest.mark.django_db
AP = "application/activity+json"


def test_webfinger_finds_the_site_and_a_topic_by_handle_with_the_port(client, settings, topic):
    settings.SITE_URL = "https://news.example:8443"
    site = client.get("/.well-known/webfinger", {"resource": "acct:news@news.example:8443"})
    assert site.status_code == 200
    assert site["Content-Type"] == "application/jrd+json"
    assert site.json()["subject"] == "acct:news@news.example:8443"
    [self_link] = [link for link in site.json()["links"] if link["rel"] == "self"]
    assert self_link == {
        "rel": "self",
        "type": AP,
        "href": "https://news.example:8443/fediverse/actor",
    }
    peru = client.get("/.well-known/webfinger", {"resource": "acct:peru@news.example:8443"})
    assert peru.json()["subject"] == "acct:peru@news.example:8443"
    assert documents.handle("news") == "@news@news.example:8443"


def test_webfinger_answers_the_preferred_username_setting(client, settings):
    settings.FEDERATION_USERNAME = "desk"
    host = documents.host()
    assert (
        client.get("/.well-known/webfinger", {"resource": f"acct:desk@{host}"}).status_code == 200
    )
    assert (
        client.get("/.well-known/webfinger", {"resource": f"acct:news@{host}"}).status_code == 404
    )


def test_webfinger_refuses_unknown_missing_and_overlong_resources_with_json(client):
    host = documents.host()
    unknown = client.get("/.well-known/webfinger", {"resource": f"acct:nobody@{host}"})
    assert unknown.status_code == 404
    assert "no actor" in unknown.json()["error"]
    other_host = client.get("/.well-known/webfinger", {"resource": "acct:news@elsewhere.example"})
    assert other_host.status_code == 404
    assert client.get("/.well-known/webfinger").status_code == 400
    long = client.get("/.well-known/webfinger", {"resource": "acct:" + "a" * 400 + f"@{host}"})
    assert long.status_code == 400
    assert "at most" in long.json()["error"]


def test_nodeinfo_links_to_its_2_1_document(client, make_article):
    make_article()
    links = client.get("/.well-known/nodeinfo").json()["links"]
    assert links[0]["href"].endswith("/nodeinfo/2.1")
    info = client.get("/nodeinfo/2.1").json()
    assert info["version"] == "2.1"
    assert info["software"]["name"] == "pressroom"
    assert info["protocols"] == ["activitypub"]
    assert info["usage"]["localPosts"] == 1


def test_the_site_actor_document_names_the_site_and_never_serves_the_private_key(client):
    response = client.get("/fediverse/actor", HTTP_ACCEPT=AP)
    assert response.status_code == 200
    assert response["Content-Type"] == AP
    assert "Accept" in response["Vary"]
    actor = response.json()
    from pressroom.site.current import read_site

    site = read_site()
    assert actor["id"] == documents.actor_url(SITE_ACTOR)
    assert actor["preferredUsername"] == "news"
    assert actor["name"] == site.name
    assert actor["summary"] == site.tagline
    assert actor["icon"]["url"].endswith(site.icons["512"])
    assert actor["inbox"] == actor["id"] + "/inbox"
    assert actor["outbox"] == actor["id"] + "/outbox"
    assert actor["followers"] == actor["id"] + "/followers"
    assert actor["endpoints"]["sharedInbox"] == documents.shared_inbox_url()
    key = ActorKey.objects.get(name=SITE_ACTOR)
    assert actor["publicKey"] == {
        "id": actor["id"] + "#main-key",
        "owner": actor["id"],
        "publicKeyPem": key.public_key_pem,
    }
    assert "PRIVATE" not in response.content.decode()
    # Made once: the next request serves the same key.
    client.get("/fediverse/actor", HTTP_ACCEPT=AP)
    assert ActorKey.objects.count() == 1


def test_ld_json_is_answered_as_ld_json_and_a_browser_is_sent_to_the_page(client, topic):
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    response = client.get(f"/fediverse/topics/{topic.pk}", HTTP_ACCEPT=ld)
    assert response["Content-Type"] == ld
    assert response.json()["preferredUsername"] == "peru"
    assert response.json()["name"].startswith("Peru")
    browser = client.get(f"/fediverse/topics/{topic.pk}", HTTP_ACCEPT="text/html")
    assert browser.status_code == 302
    assert browser["Location"] == topic.get_absolute_url()
    assert client.get("/fediverse/topics/999999", HTTP_ACCEPT=AP).status_code == 404


def test_followers_collection_gives_a_count_and_no_people(client, topic):
    for number in range(3):
        Follower.objects.create(
            followed=SITE_ACTOR,
            actor_url=f"https://social.example/users/u{number}",
            inbox_url=f"https://social.example/users/u{number}/inbox",
            domain="social.example",
        )
    collection = client.get("/fediverse/actor/followers", HTTP_ACCEPT=AP).json()
    assert collection["totalItems"] == 3
    assert "orderedItems" not in collection
    assert "first" not in collection
    assert "social.example" not in str(collection)
    topic_followers = client.get(f"/fediverse/topics/{topic.pk}/followers", HTTP_ACCEPT=AP)
    assert topic_followers.json()["totalItems"] == 0


def test_the_outbox_pages_create_activities_of_the_newest_articles(client, make_article, settings):
    articles = [make_article(f"Story {number}") for number in range(25)]
    outbox = client.get("/fediverse/actor/outbox", HTTP_ACCEPT=AP).json()
    assert outbox["type"] == "OrderedCollection"
    assert outbox["totalItems"] == 25
    first = client.get(outbox["first"].removeprefix(settings.SITE_URL), HTTP_ACCEPT=AP).json()
    assert first["type"] == "OrderedCollectionPage"
    assert len(first["orderedItems"]) == documents.OUTBOX_PAGE_SIZE
    assert {item["type"] for item in first["orderedItems"]} == {"Create"}
    assert first["orderedItems"][0]["object"]["name"] == articles[-1].title  # newest first
    second = client.get(first["next"].removeprefix(settings.SITE_URL), HTTP_ACCEPT=AP).json()
    assert len(second["orderedItems"]) == 5
    assert "next" not in second
    bad = client.get("/fediverse/actor/outbox", {"page": "x"}, HTTP_ACCEPT=AP)
    assert bad.status_code == 400
    assert "page" in bad.json()["error"]
    assert client.get("/fediverse/actor/outbox", {"page": "99999999"}).status_code == 400


def test_a_topic_outbox_lists_only_its_articles(client, make_article, topic):
    from pressroom.publishing import services
    from pressroom.publishing.models import Topic

    make_article("In Peru")
    make_article("Elsewhere", topics=[services.save_topic(Topic(name="Chile"))])
    outbox = client.get(f"/fediverse/topics/{topic.pk}/outbox", HTTP_ACCEPT=AP).json()
    assert outbox["totalItems"] == 1


def test_an_article_object_is_served_to_servers_and_readers_go_to_its_page(client, make_article):
    article = make_article()
    served = client.get(f"/fediverse/articles/{article.pk}", HTTP_ACCEPT=AP)
    assert served.json()["type"] == "Article"
    assert served.json()["name"] == article.title
    browser = client.get(f"/fediverse/articles/{article.pk}")
    assert browser.status_code == 302
    assert browser["Location"] == article.get_absolute_url()
    assert client.get("/fediverse/articles/999999", HTTP_ACCEPT=AP).status_code == 404


def test_topic_actors_have_keys_of_their_own(client, topic):
    site = client.get("/fediverse/actor", HTTP_ACCEPT=AP).json()["publicKey"]["publicKeyPem"]
    mine = client.get(f"/fediverse/topics/{topic.pk}", HTTP_ACCEPT=AP).json()
    assert mine["publicKey"]["publicKeyPem"] != site
    assert ActorKey.objects.filter(name=topic_actor(topic.pk)).exists()
