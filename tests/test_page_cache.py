"""The anonymous page cache: readers share pages, every change shows up at once, nothing
personal is ever shared. Changes go through the real path: a publishing service, its commit,
content_changed, the generation bump."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.cache import never_cache

from pressroom.lib import pagecache
from pressroom.lib.pagecache.generation import forget_cached_pages
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic

pytestmark = pytest.mark.django_db

LISTING_PAGES = [
    "/",
    "/topics/peru/",
    "/authors/ana-quispe/",
    "/feed/",
    "/feed/atom/",
    "/topics/peru/feed/",
]


@pytest.fixture
def reader() -> Client:
    """An anonymous reader with a browser of their own (no cookies)."""
    return Client(HTTP_ACCEPT_ENCODING="")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a write and its on-commit work (content_changed), as a real request would."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


def _warm(client: Client, urls: list[str]) -> None:
    for url in urls:
        assert client.get(url).status_code == 200, url
        assert client.get(url)["X-Page-Cache"] == "hit", url


def test_second_reader_gets_the_page_from_the_cache(make_article, reader):
    make_article(title="Miners march on Lima")
    first = reader.get("/topics/peru/")
    second = Client().get("/topics/peru/")
    assert first["X-Page-Cache"] == "miss"
    assert second["X-Page-Cache"] == "hit"
    assert second.content == first.content
    assert "Miners march on Lima" in second.content.decode()


def test_publishing_an_article_shows_it_on_every_page_that_lists_it(make_article, reader, commit):
    make_article(title="Miners march on Lima")
    draft = make_article(title="Teachers strike in Cusco", status="draft")
    _warm(reader, LISTING_PAGES)
    assert reader.get(draft.get_absolute_url()).status_code == 404

    commit(services.publish_article, draft)

    for url in LISTING_PAGES:
        response = reader.get(url)
        assert "Teachers strike in Cusco" in response.content.decode(), url
        assert response["X-Page-Cache"] == "miss", url
    assert reader.get(draft.get_absolute_url()).status_code == 200


def test_correcting_an_article_changes_it_on_every_page(make_article, reader, commit):
    article = make_article(title="Miners march on Lima")
    _warm(reader, [*LISTING_PAGES, article.get_absolute_url()])

    article.title = "Miners march on Lima and Cusco"
    commit(services.save_article, article)

    for url in [*LISTING_PAGES, article.get_absolute_url()]:
        assert "Miners march on Lima and Cusco" in reader.get(url).content.decode(), url


@pytest.mark.parametrize("change", ["unpublish", "delete"])
def test_unpublishing_or_deleting_takes_an_article_off_every_page(
    make_article, reader, commit, change
):
    make_article(title="Miners march on Lima")
    article = make_article(title="Retracted story")
    url = article.get_absolute_url()
    _warm(reader, [*LISTING_PAGES, url])

    if change == "unpublish":
        commit(services.unpublish_article, article)
    else:
        commit(services.delete_article, article)

    for page in LISTING_PAGES:
        html = reader.get(page).content.decode()
        assert "Retracted story" not in html, page
        assert "Miners march on Lima" in html, page
    assert reader.get(url).status_code == 404


def test_a_scheduled_article_shows_on_cached_pages_when_its_time_comes(make_article, reader):
    """No save and no signal when it goes public: its moment was registered by publishing."""
    make_article(title="Miners march on Lima")
    scheduled = make_article(title="Teachers strike in Cusco", status="draft")
    at = timezone.now() + timedelta(seconds=3)
    services.publish_article(scheduled, at=at)
    _warm(reader, LISTING_PAGES)
    for url in LISTING_PAGES:
        html = reader.get(url).content.decode()
        assert timezone.now() >= at or "Teachers strike in Cusco" not in html, url
    time.sleep(max(0.0, (at - timezone.now()).total_seconds()) + 0.05)
    for url in LISTING_PAGES:
        assert "Teachers strike in Cusco" in reader.get(url).content.decode(), url


def test_renaming_a_topic_refreshes_its_pages(make_article, topic, reader, commit):
    make_article()
    _warm(reader, ["/topics/peru/"])
    topic.name = "Perú"
    commit(services.save_topic, topic)
    assert "<h1>Perú</h1>" in reader.get("/topics/peru/").content.decode()


def test_logged_in_editor_always_sees_fresh_pages(make_article, reader, editor):
    article = make_article(title="Miners march on Lima")
    _warm(reader, ["/topics/peru/", article.get_absolute_url()])
    # A change that announces nothing (as a campaign figure would): only the editor sees it now.
    Article.objects.filter(pk=article.pk).update(title="Quiet correction")

    editor_browser = Client()
    editor_browser.force_login(editor)
    for url in ["/topics/peru/", "/articles/miners-march-on-lima/"]:
        response = editor_browser.get(url)
        assert "Quiet correction" in response.content.decode(), url
        assert response["X-Page-Cache"] == "bypass"
        assert response["Cache-Control"] == "private, no-cache"
        assert "Quiet correction" not in reader.get(url).content.decode()


def test_pages_and_their_parts_expire_even_without_a_change(make_article, reader, settings):
    """A change that announces nothing shows within PAGE_CACHE_SECONDS: the generation moves on
    at least that often, for the pages and the parts each process keeps alike."""
    settings.PAGE_CACHE_SECONDS = 1
    article = make_article(title="Miners march on Lima")
    author = article.authors.get()
    # Read once, so their parts are kept (not _warm: with one-second periods a loaded machine
    # can cross a period between its two reads, and its "hit" check would fail for that alone).
    for url in ("/topics/peru/", "/authors/ana-quispe/"):
        assert reader.get(url).status_code == 200, url
    # The article's teaser and the author of the archive page are parts kept per process.
    Article.objects.filter(pk=article.pk).update(title="Quiet correction")
    type(author).objects.filter(pk=author.pk).update(name="Ana Quispe Mamani")
    time.sleep(1.1)
    assert "Quiet correction" in reader.get("/topics/peru/").content.decode()
    assert "<h1>Ana Quispe Mamani</h1>" in reader.get("/authors/ana-quispe/").content.decode()


def test_a_scheduled_article_shows_when_its_time_comes_though_nothing_announced_it(
    make_article, reader
):
    """Going public at its time is not a save: publishing tells the page cache (through the
    hook it registers in its AppConfig.ready()) when the next scheduled article goes public,
    and no page is kept past that moment."""
    make_article(title="Miners march on Lima")
    soon = timezone.now() + timedelta(seconds=1.5)
    make_article(title="Strike called for dawn", status="scheduled", published_at=soon)
    _warm(reader, ["/topics/peru/"])
    assert "Strike called for dawn" not in reader.get("/topics/peru/").content.decode()
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.2)
    response = reader.get("/topics/peru/")
    assert response["X-Page-Cache"] == "miss"
    assert "Strike called for dawn" in response.content.decode()


def test_a_change_saved_by_another_process_reaches_this_process_cache(
    make_article, reader, settings, tmp_path
):
    """locmem caches are per process: the generation file carries the change between them."""
    article = make_article(title="Miners march on Lima")
    _warm(reader, ["/topics/peru/"])
    Article.objects.filter(pk=article.pk).update(title="Corrected elsewhere")
    assert "Corrected elsewhere" not in reader.get("/topics/peru/").content.decode()

    other_process = subprocess.run(
        [Path(sys.executable).with_name("pressroom"), "shell", "-c", BUMP_IN_ANOTHER_PROCESS],
        env={
            **os.environ,
            "PRESSROOM_TESTING": "1",
            "PRESSROOM_VAR_DIR": str(settings.VAR_DIR),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other_process.returncode == 0, other_process.stderr

    response = reader.get("/topics/peru/")
    assert response["X-Page-Cache"] == "miss"
    assert "Corrected elsewhere" in response.content.decode()


# What content_changed's receiver does in the process that saved the article.
BUMP_IN_ANOTHER_PROCESS = (
    "from pressroom.lib.pagecache import forget_cached_pages; forget_cached_pages()"
)


def test_shared_cache_carries_the_generation_to_every_process(settings, tmp_path):
    """With a shared cache (Redis in production; the file cache here), each process reads the
    generation from the cache on every request: a bump in one is seen by the next read in
    another."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    editor_process = pagecache.SharedCacheGeneration()
    web_process = pagecache.SharedCacheGeneration()
    before = web_process.current()
    assert editor_process.current() == before

    editor_process.bump()
    assert web_process.current() == editor_process.current() != before


def test_a_lost_shared_generation_never_brings_old_pages_back(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    from django.core.cache import cache

    generation = pagecache.SharedCacheGeneration()
    first = int(generation.current())
    generation.bump()
    cache.delete(pagecache.GENERATION_KEY)  # evicted, or Redis restarted
    assert int(generation.current()) > first + 1


def test_page_cache_can_be_switched_off(make_article, reader, settings):
    settings.PAGE_CACHE_SECONDS = 0
    make_article()
    assert reader.get("/topics/peru/")["X-Page-Cache"] == "off"
    assert reader.get("/topics/peru/")["X-Page-Cache"] == "off"


# Responses that must never be shared: a URLconf with one view of each kind, next to the site.


def _cookie_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("<p>Your basket</p>" * 30)
    response.set_cookie("basket", "3")
    return response


@never_cache
def _never_cache_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<p>Your receipt</p>" * 30)


def _csrf_form_view(request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(
        '<form method="post">{% csrf_token %}<button>Go</button></form>' * 10
    )
    return HttpResponse(template.render({}, request))


def _plain_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"<p>{request.path} at {time.monotonic_ns()}</p>" * 30)


urlpatterns = [
    path("test/cookie/", _cookie_view),
    path("test/never-cache/", _never_cache_view),
    path("test/csrf-form/", _csrf_form_view),
    path("donate/thanks/", _plain_view),
    path("digest/unsubscribe/abc/", _plain_view),
    path("digest/preferences/abc/", _plain_view),
    path("fundraising/webhooks/stripe/", _plain_view),
    path("test/plain/", _plain_view),
    path("", include("pressroom.urls")),
]
handler404 = "pressroom.front.views.page_not_found"


@pytest.mark.parametrize(
    "url",
    [
        "/test/cookie/",
        "/test/never-cache/",
        "/test/csrf-form/",
        "/donate/thanks/",
        "/digest/unsubscribe/abc/",
        "/digest/preferences/abc/",
        "/fundraising/webhooks/stripe/",
        "/admin/login/",
        "/no-such-page/",
    ],
)
def test_personal_or_private_responses_are_never_shared(reader, settings, url):
    settings.ROOT_URLCONF = __name__
    first = reader.get(url)
    second = Client().get(url)
    assert second.get("X-Page-Cache") != "hit", url
    assert first.get("X-Page-Cache") != "hit", url
    if first.status_code == 200 and url.startswith("/test/"):
        assert "public" not in first.get("Cache-Control", "")


def test_a_plain_public_page_of_any_app_is_shared(reader, settings):
    settings.ROOT_URLCONF = __name__
    first = reader.get("/test/plain/")
    assert Client().get("/test/plain/").content == first.content


def test_posts_are_never_answered_from_the_cache(make_article, reader):
    make_article()
    _warm(reader, ["/topics/peru/"])
    response = reader.post("/topics/peru/")
    assert response.get("X-Page-Cache") != "hit"


def test_a_reader_with_a_session_is_served_fresh(make_article, reader, settings):
    make_article()
    _warm(reader, ["/topics/peru/"])
    with_session = Client()
    with_session.cookies[settings.SESSION_COOKIE_NAME] = "anything"
    assert with_session.get("/topics/peru/")["X-Page-Cache"] == "bypass"


def test_the_digest_signup_on_a_cached_page_works_for_every_visitor(make_article, reader):
    """The form is in the shared page: no CSRF token, no cookie, nothing about the visitor."""
    from pressroom.newsletter.models import Subscriber

    make_article()
    reader.get("/topics/peru/")
    for number, visitor in enumerate([Client(enforce_csrf_checks=True) for _ in range(2)]):
        page = visitor.get("/topics/peru/")
        html = page.content.decode()
        assert page["X-Page-Cache"] == "hit"
        assert not page.cookies
        assert "csrfmiddlewaretoken" not in html
        action = re.search(r'<form method="post" action="([^"]+)">', html).group(1)

        response = visitor.post(action, {"email": f"reader{number}@example.org", "website": ""})
        assert response.status_code == 302, response.content.decode()[:500]
        assert Subscriber.objects.filter(email=f"reader{number}@example.org").exists()


def test_a_cache_outage_slows_pages_down_but_never_breaks_them(reader, settings, caplog):
    settings.ROOT_URLCONF = __name__
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    first = reader.get("/test/plain/")
    second = reader.get("/test/plain/")
    assert first.status_code == second.status_code == 200
    assert first.content != second.content  # rendered each time: nothing could be stored
    # A publish during the outage: the editor's save must not fail because of the page cache.
    forget_cached_pages(sender=Article, article_ids=[])
    assert "could not bump the content generation" in caplog.text


def test_site_pages_render_while_the_shared_cache_is_down(make_article, reader, settings, caplog):
    """Pages keep their header, teasers and banner (kept under the last generation seen)."""
    make_article(title="Miners march on Lima")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    for url in ["/", "/topics/peru/", "/authors/ana-quispe/", "/articles/miners-march-on-lima/"]:
        response = reader.get(url)
        assert response.status_code == 200, url
        assert "Miners march on Lima" in response.content.decode(), url
    assert "could not read the content generation" in caplog.text


def test_a_process_without_the_page_in_memory_reads_the_same_page_from_the_cache(
    make_article, reader
):
    """Another worker has only the shared cache, where a plain page is kept packed."""
    from django.core.cache import cache

    from pressroom.lib.pagecache.pages import forget_memory, page_key

    make_article(title="Miners march on Lima")
    stored = reader.get("/topics/peru/")
    kept = cache.get(page_key(stored.wsgi_request.META, pagecache.current_generation(), ""))
    assert kept.packed
    assert len(kept.body) < len(stored.content) / 2

    forget_memory()
    again = Client().get("/topics/peru/")
    assert again["X-Page-Cache"] == "hit"
    assert again.content == stored.content
    assert again["ETag"] == stored["ETag"]


def test_a_topic_featured_in_another_process_shows_in_this_process_navigation(
    make_article, topic, reader
):
    """The header's featured topics are cached too; the generation has to reach them."""
    make_article()
    assert '<li><a href="/topics/peru/">Peru</a></li>' not in reader.get("/").content.decode()
    # Another process saves the topic: here, only the shared generation changes.
    Topic.objects.filter(pk=topic.pk).update(is_featured=True)
    pagecache.forget_cached_pages()
    assert '<li><a href="/topics/peru/">Peru</a></li>' in reader.get("/").content.decode()


def test_a_new_digest_shows_on_the_cached_digest_archive_once_sent(make_article, reader, commit):
    from pressroom.newsletter import digests, fanout

    make_article(title="Miners march on the capital")
    _warm(reader, ["/digest/archive/"])
    digest, created = commit(digests.create_digest)
    assert created
    # The archive lists only what went out (issue 16): not yet.
    assert digest.subject not in reader.get("/digest/archive/").content.decode()
    _warm(reader, ["/digest/archive/"])
    commit(lambda: list(fanout.fan_out(digest.pk)))  # nobody to send to: finished, sent
    page = reader.get("/digest/archive/")
    assert page["X-Page-Cache"] == "miss"
    assert digest.subject in page.content.decode()
