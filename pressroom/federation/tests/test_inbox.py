"""Our inboxes: Follow (auto-Accept, signed), Undo, Delete of a remote actor, both signature
dialects, and every refusal a clear 4xx."""

from __future__ import annotations

import json
from email.utils import formatdate
from time import time

import pytest
from django.core.cache import cache

from pressroom.federation import documents
from pressroom.federation.models import SITE_ACTOR, Delivery, Follower, topic_actor
from pressroom.federation.tests.conftest import (
    INBOX,
    SHARED_INBOX,
    follow,
    our_public_key,
    run_worker,
)
from pressroom.federation.tests.remote import RemoteServer, django_headers

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_a_follow_signed_by_httpsig_is_kept_and_accepted_with_a_signature_it_verifies(
    remote, post_signed
):
    response = post_signed(remote, follow(remote))
    assert response.status_code == 202
    follower = Follower.objects.get()
    assert (follower.followed, follower.actor_url) == (SITE_ACTOR, remote.actor)
    assert (follower.inbox_url, follower.shared_inbox_url) == (remote.inbox, remote.shared_inbox)
    assert remote.received == []  # nothing sent on the request: the worker delivers

    run_worker()

    [accept] = remote.received
    assert accept.path == "/users/alice/inbox"  # an Accept goes to the follower's own inbox
    assert accept.activity["type"] == "Accept"
    assert accept.activity["object"]["id"] == follow(remote)["id"]
    assert accept.activity["actor"] == documents.actor_url(SITE_ACTOR)
    assert remote.verify(accept, our_public_key())
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


@pytest.mark.django_db(transaction=True)
def test_a_topic_is_followed_through_its_own_inbox_and_the_shared_inbox(remote, post_signed, topic):
    topic_url = documents.actor_url(topic_actor(topic.pk))
    assert (
        post_signed(
            remote, follow(remote, topic_url), f"/fediverse/topics/{topic.pk}/inbox"
        ).status_code
        == 202
    )
    # Through the shared inbox, any of our actors; the site's inbox takes only the site's.
    assert post_signed(remote, follow(remote, number=2), SHARED_INBOX).status_code == 202
    assert set(Follower.objects.values_list("followed", flat=True)) == {
        SITE_ACTOR,
        topic_actor(topic.pk),
    }
    wrong = post_signed(remote, follow(remote, topic_url, number=3), INBOX)
    assert wrong.status_code == 404
    run_worker()
    assert [r.activity["actor"] for r in remote.received].count(topic_url) == 1
    assert all(
        remote.verify(
            r,
            our_public_key(
                (r.activity["actor"] == topic_url and topic_actor(topic.pk)) or SITE_ACTOR
            ),
        )
        for r in remote.received
    )


def test_undo_of_a_follow_forgets_the_follower(remote, post_signed):
    post_signed(remote, follow(remote))
    response = post_signed(remote, remote.activity("Undo", follow(remote), number=2))
    assert response.status_code == 202
    assert not Follower.objects.exists()


def test_undo_by_the_follow_id_alone_forgets_it_too(remote, post_signed):
    post_signed(remote, follow(remote))
    post_signed(remote, remote.activity("Undo", follow(remote)["id"], number=2))
    assert not Follower.objects.exists()


def test_delete_of_a_remote_actor_drops_its_follows_even_once_its_key_is_gone(
    remote, post_signed, topic
):
    post_signed(remote, follow(remote))
    post_signed(remote, follow(remote, documents.actor_url(topic_actor(topic.pk)), 2), SHARED_INBOX)
    assert Follower.objects.count() == 2
    remote.gone = True  # its server answers 410 for the actor and its key now
    cache.clear()
    response = post_signed(remote, remote.activity("Delete", remote.actor, 3), SHARED_INBOX)
    assert response.status_code == 202
    assert not Follower.objects.exists()


def test_other_activities_are_accepted_and_ignored(remote, post_signed):
    response = post_signed(remote, remote.activity("Like", documents.object_url(1)))
    assert response.status_code == 202
    assert not Follower.objects.exists()
    assert not Delivery.objects.exists()


def test_rfc_9421_rsa_signatures_from_http_message_signatures_are_accepted(remote, post_signed):
    response = post_signed(remote, follow(remote), dialect="rfc9421")
    assert response.status_code == 202, response.content
    assert Follower.objects.filter(actor_url=remote.actor).exists()


def test_rfc_9421_ed25519_signatures_are_accepted(post_signed):
    with RemoteServer("bob", key_type="ed25519") as remote:
        response = post_signed(remote, follow(remote), dialect="rfc9421")
    assert response.status_code == 202, response.content
    assert Follower.objects.filter(actor_url=remote.actor).exists()


def test_an_ed25519_multikey_published_under_assertion_method_is_used(post_signed):
    with RemoteServer("carol", key_type="ed25519", multikey=True) as remote:
        response = post_signed(remote, follow(remote), dialect="rfc9421")
    assert response.status_code == 202, response.content
    follower = Follower.objects.get(actor_url=remote.actor)
    assert follower.public_key_pem == remote.public_pem  # the same key, read from multibase


# Refusals: each a 4xx with one line saying why, and nothing kept.


def refused(response, status: int, words: str) -> None:
    assert response.status_code == status, response.content
    assert words in response.json()["error"]
    assert not Follower.objects.exists()


def test_malformed_json_is_refused(remote, post_signed):
    refused(post_signed(remote, {}, body=b'{"type": "Follow",'), 400, "not JSON")


def test_deeply_nested_json_is_refused_not_a_server_error(remote, post_signed):
    refused(post_signed(remote, {}, body=b"[" * 100_000 + b"]" * 100_000), 400, "not JSON")


def test_a_json_value_that_is_not_an_activity_is_refused(remote, post_signed):
    refused(post_signed(remote, {}, body=b"[1, 2]"), 400, "not an activity")


def test_a_wrong_content_type_is_refused(remote, post_signed):
    refused(post_signed(remote, follow(remote), content_type="text/plain"), 415, "activity+json")


def test_a_huge_body_is_refused_before_it_is_read(remote, post_signed, settings):
    settings.FEDERATION_MAX_BODY_BYTES = 2048
    activity = {**follow(remote), "padding": "x" * 4096}
    refused(post_signed(remote, activity), 413, "larger than 2048 bytes")


def test_a_content_length_that_is_not_a_number_is_refused(remote, client):
    body = json.dumps(follow(remote)).encode()
    response = client.generic(
        "POST", INBOX, body, content_type="application/activity+json", CONTENT_LENGTH="12x"
    )
    refused(response, 400, "Content-Length")


def test_an_unsigned_request_is_refused(remote, client):
    response = client.post(INBOX, follow(remote), content_type="application/activity+json")
    refused(response, 401, "not signed")


def test_a_bad_signature_is_refused(remote, post_signed):
    activity = follow(remote)
    body = json.dumps(activity).encode()
    signed = remote.cavage_headers("http://testserver" + INBOX, body)
    signed["Signature"] = signed["Signature"].replace('signature="', 'signature="AAAA')
    refused(post_signed(remote, activity, headers=signed), 401, "")


def test_a_body_changed_after_signing_is_refused_by_its_digest(remote, post_signed):
    signed = remote.cavage_headers("http://testserver" + INBOX, json.dumps(follow(remote)).encode())
    tampered = follow(remote, number=9)
    refused(post_signed(remote, tampered, headers=signed), 401, "Digest does not match")


def test_an_unknown_key_is_refused(remote, post_signed):
    remote.name = "alice"
    activity = follow(remote)
    body = json.dumps(activity).encode()
    signed = remote.cavage_headers("http://testserver" + INBOX, body)
    signed["Signature"] = signed["Signature"].replace("/users/alice#", "/users/nobody#")
    refused(post_signed(remote, activity, headers=signed), 401, "cannot fetch the key")


def test_a_key_on_a_private_address_is_refused_outside_development(remote, post_signed, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    # Outside development a key must be https (and then on a public address: test_hardening).
    refused(post_signed(remote, follow(remote)), 401, "https address")


def test_a_replayed_request_is_refused(remote, client, django_capture_on_commit_callbacks):
    body = json.dumps(follow(remote)).encode()
    signed = django_headers(remote.cavage_headers("http://testserver" + INBOX, body))
    first = client.generic("POST", INBOX, body, content_type="application/activity+json", **signed)
    assert first.status_code == 202
    Follower.objects.all().delete()
    again = client.generic("POST", INBOX, body, content_type="application/activity+json", **signed)
    refused(again, 401, "already used")


def test_an_old_or_future_date_is_refused(remote, client):
    body = json.dumps(follow(remote)).encode()
    for when, words in ((time() - 600, "older than"), (time() + 600, "future")):
        date = formatdate(when, usegmt=True)
        signed = django_headers(remote.cavage_headers("http://testserver" + INBOX, body, date=date))
        response = client.generic(
            "POST", INBOX, body, content_type="application/activity+json", **signed
        )
        refused(response, 401, words)


def test_a_blocked_domain_is_refused_without_fetching_its_key(remote, post_signed):
    activity = follow(remote)
    activity["actor"] = "https://social.blocked.example/users/spam"
    refused(post_signed(remote, activity), 403, "blocked")
    assert remote.received == []


def test_an_activity_from_another_actor_than_the_key_is_refused(remote, post_signed):
    activity = follow(remote)
    activity["actor"] = remote.base + "/users/mallory"
    refused(post_signed(remote, activity), 401, "not the key's owner")


def test_a_rotated_key_is_fetched_again_once(remote, post_signed):
    assert post_signed(remote, follow(remote)).status_code == 202
    with RemoteServer("alice") as rotated:
        pass
    # Same actor, new key: the cached copy fails, the fresh one verifies.
    remote.private_key, remote.private_pem, remote.public_pem = (
        rotated.private_key,
        rotated.private_pem,
        rotated.public_pem,
    )
    response = post_signed(remote, remote.activity("Undo", follow(remote), number=2))
    assert response.status_code == 202
    assert not Follower.objects.exists()


def test_inbox_refuses_get_and_unknown_topics(client, remote, post_signed):
    assert client.get(INBOX).status_code == 405
    refused(
        post_signed(remote, follow(remote), "/fediverse/topics/999999/inbox"), 404, "no such actor"
    )
