"""HTTP caching a browser, a reverse proxy or a CDN can rely on: validators with 304 answers,
Cache-Control for shared caches, compression done once, hashed static files cached forever."""

from __future__ import annotations

import gzip
import time

import brotli
import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client
from django.utils.http import http_date

from pressroom.lib.pagecache import preferred_encoding
from pressroom.publishing import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader() -> Client:
    return Client()


@pytest.mark.parametrize("cache_seconds", [60, 0])
def test_unchanged_page_answers_304_to_its_etag(make_article, reader, settings, cache_seconds):
    settings.PAGE_CACHE_SECONDS = cache_seconds
    make_article()
    first = reader.get("/topics/peru/")
    etag = first["ETag"]
    assert etag.startswith('W/"')

    again = reader.get("/topics/peru/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_unchanged_page_answers_304_to_if_modified_since(make_article, reader):
    make_article()
    first = reader.get("/")
    last_modified = first["Last-Modified"]
    assert reader.get("/", HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    assert reader.get("/", HTTP_IF_MODIFIED_SINCE=http_date(0)).status_code == 200


def test_a_changed_page_answers_200_to_the_old_etag(
    make_article, reader, django_capture_on_commit_callbacks
):
    article = make_article(title="Miners march on Lima")
    etag = reader.get("/topics/peru/")["ETag"]

    article.title = "Miners march on Cusco"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article)

    response = reader.get("/topics/peru/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert "Miners march on Cusco" in response.content.decode()


@pytest.mark.parametrize("url", ["/", "/topics/peru/", "/feed/", "/articles/miners-march-on-lima/"])
def test_public_pages_tell_proxies_they_may_share_them_briefly(make_article, reader, url):
    make_article(title="Miners march on Lima")
    cache_control = reader.get(url)["Cache-Control"]
    assert cache_control.startswith("public")
    assert "max-age=0" in cache_control  # browsers revalidate: a 304 costs almost nothing
    assert "s-maxage=1" in cache_control  # proxies share a page for a second
    assert "stale-while-revalidate=" in cache_control


def test_nginx_keeps_a_public_page_no_longer_than_a_second_even_when_it_was_cached_earlier(
    make_article, reader, settings
):
    """nginx rounds s-maxage to whole seconds from the second it stores a page (up to two
    seconds for s-maxage=1); each answer, hits included, names the second its copy ends."""
    make_article()
    reader.get("/topics/peru/")  # stored in the page cache now; the hit below is answered later
    for _ in range(3):
        before = int(time.time())
        hit = reader.get("/topics/peru/")
        after = int(time.time())
        assert hit["X-Page-Cache"] == "hit"
        assert before <= int(hit["X-Accel-Expires"].removeprefix("@")) <= after
        revalidated = reader.get("/topics/peru/", HTTP_IF_NONE_MATCH=hit["ETag"])
        assert revalidated.status_code == 304
        assert revalidated["X-Accel-Expires"].startswith("@")
        time.sleep(0.4)


def test_private_pages_carry_no_proxy_expiry(make_article, editor_client):
    make_article()
    response = editor_client.get("/topics/peru/")
    assert response["Cache-Control"] == "private, no-cache"
    assert not response.has_header("X-Accel-Expires")


@pytest.mark.parametrize(
    ("encoding", "decompress"), [("br", brotli.decompress), ("gzip", gzip.decompress)]
)
def test_pages_are_compressed_once_and_served_compressed_from_the_cache(
    make_article, encoding, decompress
):
    make_article()
    plain = Client().get("/topics/peru/", HTTP_ACCEPT_ENCODING="identity")
    assert not plain.has_header("Content-Encoding")
    browser = Client(HTTP_ACCEPT_ENCODING=f"{encoding}, deflate")
    stored = browser.get("/topics/peru/")
    hit = browser.get("/topics/peru/")

    assert hit["X-Page-Cache"] == "hit"
    assert hit["Content-Encoding"] == encoding
    assert "Accept-Encoding" in hit["Vary"]
    assert hit.content == stored.content
    assert int(hit["Content-Length"]) == len(hit.content) < len(plain.content) / 2
    assert decompress(hit.content) == plain.content
    assert hit["ETag"] == plain["ETag"]


def test_responses_for_editors_are_still_compressed(make_article, editor_client):
    make_article()
    response = editor_client.get("/topics/peru/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["X-Page-Cache"] == "bypass"
    assert response["Content-Encoding"] == "gzip"
    assert "Skip to content" in gzip.decompress(response.content).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("GZIP", "gzip"),
        ("identity", ""),
        ("", ""),
        ("*", "br"),
        ("gzip;q=0, br;q=0", ""),
        ("br;q=nonsense, gzip", "gzip"),
    ],
)
def test_the_best_encoding_the_browser_accepts_is_chosen(header, expected):
    assert preferred_encoding(header) == expected


def test_hashed_static_files_are_cached_forever(reader):
    url = staticfiles_storage.url("front/site.css")
    assert url != "/static/front/site.css", "collectstatic has not hashed the stylesheet"
    response = reader.get(url)
    assert response.status_code == 200
    cache_control = response["Cache-Control"]
    assert "immutable" in cache_control
    assert "max-age=315360000" in cache_control or "max-age=31536000" in cache_control
    assert "public" in cache_control
