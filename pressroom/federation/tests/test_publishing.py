"""Articles published, corrected, unpublished and deleted reach followers as signed Create,
Update and Delete activities (topics Announce them), one delivery per shared inbox, through the
worker, retried with backoff and given up on after FEDERATION_RETRY_HOURS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from pressroom.federation import documents
from pressroom.federation.models import (
    SITE_ACTOR,
    Activity,
    Delivery,
    FederatedArticle,
    Follower,
    Instance,
    topic_actor,
)
from pressroom.federation.tests.conftest import our_public_key, run_worker
from pressroom.federation.tests.remote import RemoteServer
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Article, Topic

# The real worker runs tasks as in production: committed rows, on PostgreSQL too.
pytestmark = pytest.mark.django_db(transaction=True)


def add_follower(remote: RemoteServer, followed: str = SITE_ACTOR, name: str = "", topic=None):
    actor = f"{remote.base}/users/{name or remote.name}"
    return Follower.objects.create(
        followed=followed,
        topic=topic,
        actor_url=actor,
        inbox_url=actor + "/inbox",
        shared_inbox_url=remote.shared_inbox,
        domain=remote.base.removeprefix("http://"),
    )


@pytest.fixture
def publish(make_article, django_capture_on_commit_callbacks):
    def publish(*args, **kwargs) -> Article:
        with django_capture_on_commit_callbacks(execute=True):
            return make_article(*args, **kwargs)

    return publish


def test_a_published_article_reaches_each_shared_inbox_once_as_a_signed_create(
    remote, publish, topic
):
    for name in ("alice", "bob", "carol"):
        add_follower(remote, name=name)  # three people on one server: one delivery
    article = publish("Miners march on Lima", topics=[topic])
    assert remote.received == []  # the request only queued a task
    run_worker()

    [create] = remote.received
    assert create.path == "/inbox"
    assert remote.verify(create, our_public_key())
    activity = create.activity
    assert activity["type"] == "Create"
    assert activity["actor"] == documents.actor_url(SITE_ACTOR)
    obj = activity["object"]
    assert obj["type"] == "Article"
    assert obj["name"] == "Miners march on Lima"
    assert obj["summary"] == article.excerpt
    assert obj["url"].endswith(article.get_absolute_url())
    assert "<p>Thousands of miners marched on Lima on Monday.</p>" in obj["content"]
    assert obj["sensitive"] is False
    assert obj["attributedTo"] == documents.actor_url(SITE_ACTOR)
    assert obj["to"] == [documents.PUBLIC]
    assert documents.actor_url(SITE_ACTOR) + "/followers" in obj["cc"]
    assert obj["tag"] == [
        {
            "type": "Hashtag",
            "href": documents.settings.SITE_URL + topic.get_absolute_url(),
            "name": "#Peru",
        }
    ]


def test_a_topics_followers_get_its_announce_and_a_server_following_both_one_of_each(
    remote, publish, topic
):
    other = publishing.save_topic(Topic(name="Climate change"))
    add_follower(remote, name="alice")
    add_follower(remote, topic_actor(topic.pk), name="bob", topic=topic)
    add_follower(remote, topic_actor(other.pk), name="carol", topic=other)
    with RemoteServer("dan") as elsewhere:
        add_follower(elsewhere, topic_actor(topic.pk), topic=topic)
        publish(topics=[topic])
        run_worker()
    kinds = sorted((r.activity["type"], r.activity["actor"]) for r in remote.received)
    assert kinds == [
        ("Announce", documents.actor_url(topic_actor(topic.pk))),
        ("Create", documents.actor_url(SITE_ACTOR)),
    ]
    [announce] = elsewhere.received  # follows only the topic: only its Announce
    assert announce.activity["type"] == "Announce"
    [create] = [r.activity for r in remote.received if r.activity["type"] == "Create"]
    assert announce.activity["object"] == create["object"]["id"]  # the Article's address
    assert elsewhere.verify(announce, our_public_key(topic_actor(topic.pk)))


def test_a_correction_sends_an_update_and_an_unchanged_save_sends_nothing(
    remote, publish, django_capture_on_commit_callbacks
):
    add_follower(remote)
    article = publish()
    run_worker()
    with django_capture_on_commit_callbacks(execute=True):
        publishing.save_article(Article.objects.get(pk=article.pk))  # nothing changed
    run_worker()
    assert [r.activity["type"] for r in remote.received] == ["Create"]
    with django_capture_on_commit_callbacks(execute=True):
        publishing.add_correction(article, "The march was on Tuesday.")
    run_worker()
    update = remote.received[-1]
    assert update.activity["type"] == "Update"
    assert "The march was on Tuesday." in update.activity["object"]["content"]
    assert update.activity["object"]["updated"]
    assert remote.verify(update, our_public_key())


def test_unpublishing_sends_a_delete_with_a_tombstone_and_the_object_answers_410(
    remote, publish, client, django_capture_on_commit_callbacks
):
    add_follower(remote)
    article = publish()
    run_worker()
    with django_capture_on_commit_callbacks(execute=True):
        publishing.unpublish_article(article)
    run_worker()
    delete = remote.received[-1]
    assert delete.activity["type"] == "Delete"
    assert delete.activity["object"] == {
        "id": documents.object_url(article.pk),
        "type": "Tombstone",
        "formerType": "Article",
    }
    assert remote.verify(delete, our_public_key())
    response = client.get(
        f"/fediverse/articles/{article.pk}", HTTP_ACCEPT="application/activity+json"
    )
    assert response.status_code == 410
    assert response.json()["type"] == "Tombstone"


def test_deleting_an_article_sends_a_delete(remote, publish, django_capture_on_commit_callbacks):
    add_follower(remote)
    article = publish()
    run_worker()
    with django_capture_on_commit_callbacks(execute=True):
        publishing.delete_article(article)
    run_worker()
    assert [r.activity["type"] for r in remote.received] == ["Create", "Delete"]


def test_a_scheduled_article_is_announced_when_its_time_comes(remote, publish):
    add_follower(remote)
    article = publish(status="scheduled", published_at=timezone.now() + timedelta(hours=1))
    run_worker()
    assert remote.received == []
    # The task looks again at the article's time: make that time now.
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(status="READY", run_after__gt=timezone.now())
    assert waiting.count() == 1
    Article.objects.filter(pk=article.pk).update(published_at=timezone.now() - timedelta(seconds=1))
    waiting.update(run_after=timezone.now())
    run_worker()
    assert [r.activity["type"] for r in remote.received] == ["Create"]


def test_old_articles_first_seen_are_recorded_without_flooding_followers(remote, publish):
    add_follower(remote)
    article = publish(published_at=timezone.now() - timedelta(days=30))
    run_worker()
    assert remote.received == []
    assert FederatedArticle.objects.get(article_id=article.pk).state == "public"


def test_without_followers_a_save_queues_no_task(publish):
    from django_tasks_db.models import DBTaskResult

    publish()
    assert not DBTaskResult.objects.exists()
    assert not Activity.objects.exists()


def test_a_failing_instance_is_retried_with_backoff_then_marked_dead_and_skipped(
    remote, publish, settings
):
    settings.FEDERATION_RETRY_SECONDS = 0.01
    add_follower(remote)
    remote.answer = 503
    publish()
    run_worker()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.PENDING
    assert delivery.attempts >= 1
    assert delivery.next_attempt_at is not None
    first_delay = delivery.retry_delay(60)
    delivery.attempts += 1
    assert delivery.retry_delay(60) == 2 * first_delay  # exponential
    # Two days later it still fails: given up on, and the instance is dead.
    Delivery.objects.update(first_failure_at=timezone.now() - timedelta(hours=49))
    import time

    time.sleep(0.05)
    run_worker()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED
    instance = Instance.objects.get(domain=delivery.domain)
    assert instance.is_dead
    assert "503" in instance.last_error
    # The next article skips it; the report names it.
    posts = len(remote.received)
    publish("Second story")
    run_worker()
    assert len(remote.received) == posts
    assert Delivery.objects.filter(state=Delivery.State.SKIPPED).count() == 1
    from io import StringIO

    out = StringIO()
    call_command("federation_report", stdout=out)
    assert "Dead instances (skipped until they post to us again): 1" in out.getvalue()
    assert instance.domain in out.getvalue()


def test_a_dead_instance_that_posts_to_us_gets_deliveries_again(remote, post_signed):
    from pressroom.federation.tests.conftest import follow

    Instance.objects.create(domain=remote.base.removeprefix("http://"), dead_since=timezone.now())
    assert post_signed(remote, follow(remote)).status_code == 202
    assert not Instance.objects.get().is_dead
    run_worker()
    assert [r.activity["type"] for r in remote.received] == ["Accept"]


def test_an_inbox_that_refuses_for_good_is_not_retried(remote, publish):
    add_follower(remote)
    remote.answer = 410
    publish()
    run_worker()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.FAILED
    assert delivery.attempts == 1
    assert not Instance.objects.get().is_dead  # one gone inbox is not a dead server


def test_the_report_revives_a_dead_instance_and_refuses_an_unknown_one():
    from io import StringIO

    from django.core.management.base import CommandError

    Instance.objects.create(domain="dead.example", dead_since=timezone.now())
    out = StringIO()
    call_command("federation_report", "--revive", "dead.example", stdout=out)
    assert not Instance.objects.get().is_dead
    with pytest.raises(CommandError, match="not a dead instance"):
        call_command("federation_report", "--revive", "alive.example")


def test_followers_on_a_blocked_domain_get_nothing(remote, publish, settings):
    settings.FEDERATION_BLOCKED_DOMAINS = ["127.0.0.1"]
    add_follower(remote)
    publish()
    run_worker()
    assert remote.received == []
    assert not Delivery.objects.exists()


def test_the_admin_lists_dead_instances_and_revives_them(admin_client):
    Instance.objects.create(
        domain="gone.example", dead_since=timezone.now(), last_error="timed out"
    )
    Instance.objects.create(domain="fine.example")
    listing = admin_client.get("/admin/federation/instance/", {"dead_since__isnull": "False"})
    assert listing.status_code == 200
    assert b"gone.example" in listing.content
    assert b"fine.example" not in listing.content
    revived = admin_client.post(
        "/admin/federation/instance/",
        {
            "action": "revive",
            "_selected_action": [Instance.objects.get(domain="gone.example").pk],
        },
        follow=True,
    )
    assert b"1 instance(s) will get deliveries again." in revived.content
    assert not Instance.objects.filter(dead_since__isnull=False).exists()
