"""Regression tests of the review of the fediverse publisher (docs/federation.md): secrets kept
out of public exports, key documents that cannot speak for someone else, hostile input that
gets a 4xx (never a 500), deliveries only to the follower's own server, and pending
deliveries cancelled by a Delete."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.federation import delivery as deliveries
from pressroom.federation import documents, signatures
from pressroom.federation.models import (
    SITE_ACTOR,
    Activity,
    ActorKey,
    Delivery,
    Follower,
    Instance,
    topic_actor,
)
from pressroom.federation.tests.conftest import INBOX, follow, run_worker
from pressroom.federation.tests.remote import RemoteServer
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Article

pytestmark = pytest.mark.django_db


class Documents:
    """A server of chosen answers: path -> (status, headers, body); counts what was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: dict[str, int] = {}

    def serve(
        self, path: str, document: Any, *, status: int = 200, kind: str = signatures.ACTIVITY_JSON
    ) -> str:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.routes[path] = (status, {"Content-Type": kind}, body)
        return self.base + path

    def __enter__(self) -> Documents:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                status, headers, body = server.routes.get(path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served() -> Iterator[Documents]:
    with Documents() as server:
        yield server


def actor(base: str, name: str, pem: str, **more: Any) -> dict[str, Any]:
    url = f"{base}/users/{name}"
    return {
        "id": url,
        "type": "Person",
        "inbox": url + "/inbox",
        "publicKey": {"id": url + "#main-key", "owner": url, "publicKeyPem": pem},
        **more,
    }


def public_pem() -> str:
    return signatures.new_private_key_pem()[1]


def refused_key(key_id: str, words: str) -> None:
    with pytest.raises(signatures.SignatureError) as refusal:
        signatures.remote_key(key_id)
    assert words in str(refusal.value)


# 1. Exports


def test_an_export_without_personal_data_has_no_private_key_and_no_follower(tmp_path):
    ActorKey.for_actor(SITE_ACTOR)
    Follower.objects.create(
        followed=SITE_ACTOR,
        actor_url="https://social.example/users/reader",
        inbox_url="https://social.example/users/reader/inbox",
        domain="social.example",
    )

    def export(name: str, *options: str) -> tuple[set[str], bytes]:
        path = tmp_path / name
        call_command("export", str(path), *options, stdout=io.StringIO())
        with tarfile.open(path) as opened:
            kinds = {
                kind["model"] for kind in json.load(opened.extractfile("manifest.json"))["kinds"]
            }
            everything = b"".join(
                opened.extractfile(member).read()
                for member in opened.getmembers()
                if member.isfile()
            )
        return kinds, everything

    kinds, everything = export("public.tar.gz", "--exclude-personal-data")
    assert b"PRIVATE KEY" not in everything
    assert b"social.example/users/reader" not in everything
    assert not kinds & {"federation.actorkey", "federation.follower"}
    # The delivery log is bookkeeping: in no export.
    assert not kinds & {"federation.activity", "federation.delivery", "federation.instance"}

    kinds, everything = export("full.tar.gz")  # a full backup keeps the keys and the followers
    assert {"federation.actorkey", "federation.follower"} <= kinds
    assert b"PRIVATE KEY" in everything


# 2. Key documents


def test_a_key_document_whose_id_is_another_address_is_refused(served):
    # An upload (or any page the server serves) claiming to be an actor's document.
    victim = actor(served.base, "victim", public_pem())
    served.serve("/uploads/evil.json", victim)
    refused_key(served.base + "/uploads/evil.json#main-key", "does not say it is that document")


def test_a_key_behind_a_redirect_is_refused(served):
    served.serve("/users/alice", actor(served.base, "alice", public_pem()))
    served.routes["/go"] = (302, {"Location": served.base + "/users/alice"}, b"")
    refused_key(served.base + "/go#main-key", "redirect")


def test_a_key_document_not_served_as_activitypub_json_is_refused(served):
    served.serve("/users/alice", actor(served.base, "alice", public_pem()), kind="text/html")
    refused_key(served.base + "/users/alice#main-key", "not served as ActivityPub JSON")


def test_a_key_document_naming_an_owner_that_does_not_list_it_is_refused(served):
    attacker = public_pem()
    served.serve("/users/victim", actor(served.base, "victim", public_pem()))
    served.serve(
        "/keys/1",
        {
            "id": served.base + "/keys/1",
            "owner": served.base + "/users/victim",
            "publicKeyPem": attacker,
        },
    )
    refused_key(served.base + "/keys/1", "does not list the key")


def test_a_key_document_whose_owner_lists_it_speaks_for_the_owner(served):
    pem = public_pem()
    key_id = served.base + "/keys/1"
    owner = actor(served.base, "alice", "unused")
    owner["publicKey"] = [{"id": key_id, "owner": owner["id"], "publicKeyPem": pem}]
    served.serve("/users/alice", owner)
    served.serve("/keys/1", {"id": key_id, "owner": owner["id"], "publicKeyPem": pem})
    key = signatures.remote_key(key_id)
    assert (key.owner, key.pem, key.inbox) == (owner["id"], pem, owner["inbox"])


# 3. Hostile input gets a 4xx


def test_a_deeply_nested_body_is_refused_with_400(client):
    response = client.generic(
        "POST", INBOX, b"[" * 100_000, content_type="application/activity+json"
    )
    assert response.status_code == 400
    assert "nested too deep" in response.json()["error"]


def test_a_deeply_nested_key_document_is_refused(served):
    served.serve("/users/deep", b'{"id": "x", "a": ' + b"[" * 100_000)
    refused_key(served.base + "/users/deep#main-key", "nested too deep")
    nested: Any = {"id": served.base + "/users/deeper"}
    for _ in range(100):
        nested = {"id": served.base + "/users/deeper", "next": [nested]}
    served.serve("/users/deeper", nested)
    refused_key(served.base + "/users/deeper#main-key", "nested deeper than")


def test_an_integer_component_in_signature_input_is_refused(client):
    body = json.dumps({"type": "Follow", "actor": "https://social.example/users/a"}).encode()
    response = client.generic(
        "POST",
        INBOX,
        body,
        content_type="application/activity+json",
        HTTP_SIGNATURE_INPUT=(
            f'sig1=(1 "@method" "@target-uri" "content-digest");created={int(time.time())};'
            'keyid="https://social.example/users/a#main-key"'
        ),
        HTTP_SIGNATURE="sig1=:AAAA:",
    )
    assert response.status_code == 401
    assert "not a string" in response.json()["error"]


def test_page_numbers_and_topic_addresses_in_other_digits_are_refused(client):
    response = client.get("/fediverse/actor/outbox?page=²", HTTP_ACCEPT=signatures.ACTIVITY_JSON)
    assert response.status_code == 400
    assert "page is a number" in response.json()["error"]
    resource = documents.actor_url(topic_actor(0)).removesuffix("0") + "²"
    response = client.get("/.well-known/webfinger", {"resource": resource})
    assert response.status_code == 404


# 4. Deliveries go to the follower's own server


@dataclass
class Redirecting(RemoteServer):
    """An actor whose inbox and shared inbox point at other servers."""

    def actor_document(self) -> dict[str, Any]:
        document = super().actor_document()
        document["inbox"] = "https://mastodon.example/inbox"
        document["endpoints"] = {"sharedInbox": "https://blocked.example/inbox"}
        return document


@pytest.mark.django_db(transaction=True)  # the real worker: committed rows
def test_inboxes_on_another_server_are_not_used(post_signed):
    with Redirecting("mallory") as remote:
        assert post_signed(remote, follow(remote)).status_code == 202
        run_worker()
    follower = Follower.objects.get()
    assert follower.inbox_url == remote.actor + "/inbox"  # on its own server
    assert follower.shared_inbox_url == ""
    assert follower.domain == signatures.domain_of(remote.actor)
    delivery = Delivery.objects.get()
    assert delivery.inbox_url == remote.inbox
    assert delivery.domain == signatures.domain_of(remote.inbox)
    assert [received.path for received in remote.received] == ["/users/mallory/inbox"]


# 5. Strings no database keeps


@pytest.mark.parametrize("bad", ["\\u0000", "\\ud800"], ids=["nul", "lone-surrogate"])
def test_nul_and_lone_surrogates_are_refused_with_400(client, bad):
    body = (
        '{"type": "Follow", "id": "https://social.example/f/' + bad + '", '
        '"actor": "https://social.example/users/a"}'
    ).encode()
    response = client.generic("POST", INBOX, body, content_type="application/activity+json")
    assert response.status_code == 400
    assert "NUL" in response.json()["error"] or "surrogate" in response.json()["error"]
    assert not Follower.objects.exists()


# 7. Key fetches are bounded


def test_a_failed_key_fetch_is_remembered_and_a_key_refetched_at_most_once_a_minute(served):
    refused_key(served.base + "/users/nobody#main-key", "answered 404")
    refused_key(served.base + "/users/nobody#main-key", "answered 404")
    assert served.hits["/users/nobody"] == 1
    served.serve("/users/alice", actor(served.base, "alice", public_pem()))
    key_id = served.base + "/users/alice#main-key"
    signatures.remote_key(key_id)
    signatures.remote_key(key_id, fresh=True)  # a signature did not fit: fetched once more
    signatures.remote_key(key_id, fresh=True)  # and not again within the minute
    assert served.hits["/users/alice"] == 2
    assert signatures.KEY_FETCH_TIMEOUT <= 5


# 8. Origins: scheme, host and port


def test_a_key_of_another_scheme_or_port_than_its_actor_is_refused(served):
    https_owner = served.base.replace("http://", "https://") + "/users/alice"
    served.serve(
        "/keys/1",
        {"id": served.base + "/keys/1", "owner": https_owner, "publicKeyPem": public_pem()},
    )
    refused_key(served.base + "/keys/1", "not held by an actor of its own server")
    assert not signatures.same_origin("http://a.example/x", "https://a.example/x")
    assert not signatures.same_origin("https://a.example:8443/x", "https://a.example/x")
    assert signatures.same_origin("https://A.example:443/x", "https://a.example/y")


def test_an_https_key_on_a_private_address_is_refused_outside_development(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    refused_key("https://127.0.0.1:1/users/alice#main-key", "not public")


# 9. Blocked domains in any spelling


def test_blocked_domains_match_in_any_spelling(settings):
    settings.FEDERATION_BLOCKED_DOMAINS = ["evil.example", "bücher.example"]
    assert signatures.is_blocked("https://EVIL.example./users/a")
    assert signatures.is_blocked("https://social.evil.example/users/a")
    assert signatures.is_blocked("https://xn--bcher-kva.example/users/a")
    assert signatures.is_blocked("https://BÜCHER.example/users/a")
    assert signatures.is_blocked("EVIL.example.")
    assert not signatures.is_blocked("https://notevil.example/users/a")


# 15. Undo


def test_an_undo_of_a_follow_naming_nothing_forgets_nothing(remote, post_signed):
    post_signed(remote, follow(remote))
    response = post_signed(remote, remote.activity("Undo", {"type": "Follow"}, number=2))
    assert response.status_code == 202
    assert Follower.objects.count() == 1
    post_signed(remote, remote.activity("Undo", "", number=3))
    assert Follower.objects.count() == 1


# 6. An unpublished article does not come back


@pytest.mark.django_db(transaction=True)
def test_a_delete_cancels_the_pending_create_so_the_article_stays_gone(
    remote, make_article, django_capture_on_commit_callbacks, settings
):

    settings.FEDERATION_RETRY_SECONDS = 3600
    Follower.objects.create(
        followed=SITE_ACTOR,
        actor_url=remote.actor,
        inbox_url=remote.inbox,
        domain=signatures.domain_of(remote.inbox),
    )
    remote.answer = 503  # the Create waits for a retry
    with django_capture_on_commit_callbacks(execute=True):
        article = make_article()
    run_worker()
    create = Delivery.objects.get(activity__kind="Create")
    assert create.state == Delivery.State.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        publishing.unpublish_article(article)
    remote.answer = 202
    remote.received.clear()
    run_worker()  # the Delete is recorded (and sent) before the Create's retry is due
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_worker()  # the retry finds the Create cancelled
    create.refresh_from_db()
    assert create.state == Delivery.State.SKIPPED
    assert [received.activity["type"] for received in remote.received] == ["Delete"]


# 14. A scheduled article saved before anyone followed


@pytest.mark.django_db(transaction=True)
def test_an_article_scheduled_before_anyone_followed_is_announced_when_its_time_comes(
    remote, make_article, django_capture_on_commit_callbacks
):

    with django_capture_on_commit_callbacks(execute=True):
        article = make_article(status="scheduled", published_at=timezone.now() + timedelta(hours=1))
    run_worker()
    Follower.objects.create(
        followed=SITE_ACTOR,
        actor_url=remote.actor,
        inbox_url=remote.inbox,
        domain=signatures.domain_of(remote.inbox),
    )
    Article.objects.filter(pk=article.pk).update(published_at=timezone.now() - timedelta(seconds=1))
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_worker()
    assert [received.activity["type"] for received in remote.received] == ["Create"]


# 13. Dead instances, redirects, jitter


def _failing_delivery(domain: str, hours_failing: float) -> Delivery:

    activity = Activity.objects.create(kind="Create", actor_name=SITE_ACTOR, document="{}")
    return Delivery.objects.create(
        activity=activity,
        inbox_url=f"https://{domain}/inbox",
        domain=domain,
        attempts=3,
        first_failure_at=timezone.now() - timedelta(hours=hours_failing),
    )


def test_one_delivery_given_up_does_not_kill_a_server_that_takes_the_others():

    now = timezone.now()
    Instance.objects.create(domain="busy.example", last_delivered_at=now - timedelta(hours=1))
    Instance.objects.create(domain="gone.example")
    for domain in ("busy.example", "gone.example"):
        failing = _failing_delivery(domain, hours_failing=49)
        assert deliveries._failed(failing, 503, "answered 503", now) is None
        failing.refresh_from_db()
        assert failing.state == Delivery.State.FAILED
    assert not Instance.objects.get(domain="busy.example").is_dead  # took others meanwhile
    assert Instance.objects.get(domain="gone.example").is_dead


def test_a_redirect_is_not_retried_and_retries_are_jittered(settings):

    now = timezone.now()
    Instance.objects.create(domain="moved.example")
    redirected = _failing_delivery("moved.example", hours_failing=0)
    assert deliveries._failed(redirected, 300, "more than 0 redirects", now) is None
    redirected.refresh_from_db()
    assert redirected.state == Delivery.State.FAILED
    assert not Instance.objects.get().is_dead

    settings.FEDERATION_RETRY_SECONDS = 60
    delays = set()
    for _ in range(5):
        failing = _failing_delivery("slow.example", hours_failing=0)
        delay = failing.retry_delay(60)  # before _failed counts this attempt
        failing.attempts -= 1
        retry_at = deliveries._failed(failing, 503, "answered 503", now)
        assert retry_at is not None
        assert delay <= retry_at - now <= delay * 1.1
        delays.add(retry_at - now)
    assert len(delays) > 1  # not all at the same moment


@pytest.mark.django_db(transaction=True)
def test_an_inbox_that_redirects_is_tried_once(
    remote, make_article, django_capture_on_commit_callbacks
):
    Follower.objects.create(
        followed=SITE_ACTOR,
        actor_url=remote.actor,
        inbox_url=remote.inbox,
        domain=signatures.domain_of(remote.inbox),
    )
    remote.answer = 302
    with django_capture_on_commit_callbacks(execute=True):
        make_article()
    run_worker()
    failed = Delivery.objects.get()
    assert (failed.state, failed.attempts, failed.next_attempt_at) == (
        Delivery.State.FAILED,
        1,
        None,
    )


# 10. Storage


def test_an_accept_keeps_only_what_names_the_follow(remote, post_signed):
    padded = {**follow(remote), "summary": "x" * 100_000}
    assert post_signed(remote, padded).status_code == 202
    accept = Activity.objects.get(kind="Accept")
    assert len(accept.document) < 2000
    assert json.loads(accept.document)["object"] == {
        "id": padded["id"],
        "type": "Follow",
        "actor": remote.actor,
        "object": documents.actor_url(SITE_ACTOR),
    }


def test_old_activities_are_pruned_but_not_those_still_pending(settings):
    settings.FEDERATION_RETRY_HOURS = 48
    old = _failing_delivery("old.example", hours_failing=0)
    Delivery.objects.filter(pk=old.pk).update(state=Delivery.State.DELIVERED)
    waiting = _failing_delivery("slow.example", hours_failing=0)  # still pending
    recent = _failing_delivery("new.example", hours_failing=0)
    Delivery.objects.filter(pk=recent.pk).update(state=Delivery.State.FAILED)
    Activity.objects.exclude(pk=recent.activity_id).update(
        created_at=timezone.now() - timedelta(hours=73)
    )
    assert deliveries.prune_activities(timezone.now()) == 1
    assert set(Activity.objects.values_list("pk", flat=True)) == {
        waiting.activity_id,
        recent.activity_id,
    }
    assert not Delivery.objects.filter(pk=old.pk).exists()


# 11. Replays across processes


def test_check_deploy_warns_when_the_replay_cache_is_per_process(settings):
    from django.core.checks import run_checks

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    warned = [found.id for found in run_checks(include_deployment_checks=True)]
    assert "federation.W001" in warned
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    warned = [found.id for found in run_checks(include_deployment_checks=True)]
    assert "federation.W001" not in warned
    assert "federation.W001" not in [found.id for found in run_checks()]  # deploy only


# 12. Handles of topics in any script


def test_a_topic_with_a_unicode_slug_is_found_by_its_handle(client):
    from pressroom.publishing.models import Topic

    topic = Topic.objects.create(name="Perú", slug="perú")
    response = client.get("/.well-known/webfinger", {"resource": f"acct:perú@{documents.host()}"})
    assert response.status_code == 200
    assert response.json()["links"][0]["href"] == documents.actor_url(topic_actor(topic.pk))


def test_a_topic_whose_slug_is_the_site_handle_gets_a_handle_of_its_own(client, settings):
    from pressroom.publishing.models import Topic

    topic = Topic.objects.create(name="News", slug=settings.FEDERATION_USERNAME)
    host = documents.host()
    site = client.get("/.well-known/webfinger", {"resource": f"acct:news@{host}"}).json()
    assert site["links"][0]["href"] == documents.actor_url(SITE_ACTOR)
    found = client.get("/.well-known/webfinger", {"resource": f"acct:topic-news@{host}"}).json()
    assert found["subject"] == f"acct:topic-news@{host}"
    assert found["links"][0]["href"] == documents.actor_url(topic_actor(topic.pk))
    document = client.get(
        f"/fediverse/topics/{topic.pk}", HTTP_ACCEPT=signatures.ACTIVITY_JSON
    ).json()
    assert document["preferredUsername"] == "topic-news"
