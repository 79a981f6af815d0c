"""A real `pressroom worker` process polls the partners' feeds (RSS 2.0 with content:encoded,
Atom, JSON Feed and WordPress's feed) served over HTTP on loopback, into the queue."""

from __future__ import annotations

import json

import pytest

from pressroom.partners.tests.feedserver import feed_server
from tests.servers import pressroom, site_env

pytestmark = pytest.mark.slow

SHOW = """
import json
from pressroom.partners.models import Feed, Item
print(json.dumps({
    "feeds": sorted([f.url.rsplit("/", 1)[1], f.status, f.items_seen, bool(f.etag)] for f in Feed.objects.all()),
    "titles": sorted(Item.objects.values_list("title", flat=True)),
}))
"""
POLL = "from pressroom.partners.tasks import poll_partner_feeds; poll_partner_feeds.enqueue()"


def test_the_worker_polls_every_kind_of_feed_into_the_queue(tmp_path):
    env = site_env(tmp_path, OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true", SITE_NAME="Movement News")
    pressroom("migrate", "--no-input", env=env)
    with feed_server() as feeds:
        sources = [
            ("NACLA", feeds.serve_file("/nacla.xml", "nacla-rss2.xml"), "--full-text"),
            (
                "Upside",
                feeds.serve_file("/upside.atom", "upside-atom.xml", "application/atom+xml"),
                "",
            ),
            (
                "WNV",
                feeds.serve_file("/wnv.json", "waging-jsonfeed.json", "application/feed+json"),
                "",
            ),
            ("El Grito", feeds.serve_file("/wordpress.rss", "wordpress-feed.xml"), "--full-text"),
        ]
        for name, url, option in sources:
            pressroom("partners", "add", name, url, *([option] if option else []), env=env)
        # What the worker's scheduler enqueues every minute; the worker runs it and the fetches
        # it queues, a few feeds to a task.
        pressroom("shell", "-c", POLL, env=env)
        pressroom("worker", "--batch", env=env)
        first = json.loads(pressroom("shell", "--no-imports", "-c", SHOW, env=env).splitlines()[-1])
        assert all("Movement News" in request["user-agent"] for request in feeds.requests)
        # The next poll finds nothing due: each feed waits its interval.
        pressroom("shell", "-c", POLL, env=env)
        pressroom("worker", "--batch", env=env)
        hits = dict(feeds.hits)
    assert first["feeds"] == [
        ["nacla.xml", "ok", 2, True],
        ["upside.atom", "ok", 1, True],
        ["wnv.json", "ok", 2, True],
        ["wordpress.rss", "ok", 1, True],
    ]
    assert first["titles"] == [
        "Asambleas barriales contra los desalojos",
        "Bolivia's lithium: who decides?",
        "How Chile's dockworkers built a general strike",
        "Peru’s Miners March on Lima",
        "Teachers in Oaxaca go back to the plaza",
        "Water defenders win in Cajamarca",
    ]
    assert hits == {"/nacla.xml": 1, "/upside.atom": 1, "/wnv.json": 1, "/wordpress.rss": 1}


def test_the_worker_schedules_the_poll_every_minute():
    from apscheduler.triggers.interval import IntervalTrigger
    from crontask import scheduler

    from pressroom.lib.tasks import load_task_modules

    load_task_modules()
    jobs = {job.func.__self__.module_path: job.trigger for job in scheduler.get_jobs()}
    trigger = jobs["pressroom.partners.tasks.poll_partner_feeds"]
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval.total_seconds() == 60


REPUBLISH = """
from pressroom.partners import services
from pressroom.partners.models import Item
done = services.republish_item(Item.objects.get(guid="nacla-1001"))
print(done.article.pk)
"""
ARTICLE = """
import json
from pressroom.media.models import MediaItem
from pressroom.publishing.models import Article
article = Article.objects.get(pk={pk})
print(json.dumps({{
    "body": article.body,
    "photos": [[item.file.url, item.credit, item.alt_text] for item in MediaItem.objects.all()],
}}))
"""


def test_the_worker_brings_a_republished_pieces_images_into_the_library(tmp_path):
    env = site_env(tmp_path, OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true")
    pressroom("migrate", "--no-input", env=env)
    with feed_server() as feeds:
        url = feeds.serve_file("/nacla.xml", "nacla-rss2.xml")
        pressroom("partners", "add", "NACLA", url, "--full-text", env=env)
        pressroom("partners", "fetch", env=env)
        pk = int(pressroom("shell", "-c", REPUBLISH, env=env).splitlines()[-1])
        saved = json.loads(
            pressroom("shell", "-c", ARTICLE.format(pk=pk), env=env).splitlines()[-1]
        )
        assert "/photo.png" not in feeds.hits  # nothing fetched while the editor waited
        pressroom("worker", "--batch", env=env)
        done = json.loads(pressroom("shell", "-c", ARTICLE.format(pk=pk), env=env).splitlines()[-1])
        hits = dict(feeds.hits)
    assert f"{feeds.url}/photo.png" in saved["body"]
    assert saved["photos"] == []
    [(photo_url, credit, alt)] = done["photos"]
    assert (credit, alt) == ("NACLA", "Miners on the Panamericana")
    assert photo_url in done["body"]
    assert f"{feeds.url}/photo.png" not in done["body"]
    assert hits["/photo.png"] == 1
