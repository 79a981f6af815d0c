"""The embed block: a pasted address becomes the provider's player with no network call (one
provider table for the editor, the cleaner and the public page), and readers see a placeholder
that loads nothing from the provider until they click."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pressroom.publishing.embeds import (
    DEFAULT_PLAYERS,
    PROVIDERS,
    EmbedError,
    click_to_load,
    embed_for_url,
)
from pressroom.publishing.html import clean_body_html, embed_src
from tests.browser import browser_test, chromium_page

PASTED = [
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "YouTube",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    ),
    (
        "https://youtu.be/dQw4w9WgXcQ",
        "YouTube",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    ),
    (
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "YouTube",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    ),
    ("https://vimeo.com/76979871", "Vimeo", "https://player.vimeo.com/video/76979871?dnt=1"),
    (
        "https://soundcloud.com/forensicarchitecture/the-killing-of-harith-augustus",
        "SoundCloud",
        "https://w.soundcloud.com/player/?url=https%3A//soundcloud.com/"
        "forensicarchitecture/the-killing-of-harith-augustus",
    ),
    (
        "https://open.spotify.com/intl-es/episode/4rOoJ6Egrf8K2IrywzwOMk?si=abc",
        "Spotify",
        "https://open.spotify.com/embed/episode/4rOoJ6Egrf8K2IrywzwOMk",
    ),
    (
        '<iframe style="border: 0; width: 100%; height: 120px;" '
        'src="https://bandcamp.com/EmbeddedPlayer/album=1536701931/size=large/bgcol=ffffff/" '
        "seamless></iframe>",
        "Bandcamp",
        "https://bandcamp.com/EmbeddedPlayer/album=1536701931/size=large/tracklist=false/artwork=small/",
    ),
    (
        "https://archive.org/details/MLKDream",
        "Internet Archive",
        "https://archive.org/embed/MLKDream",
    ),
    (
        "https://peertube.tv/w/kkGMgK9ZtnKfYAgnEtQxbv",
        "PeerTube",
        "https://peertube.tv/videos/embed/kkGMgK9ZtnKfYAgnEtQxbv",
    ),
    (
        "https://mastodon.social/@Gargron/109313011346126443",
        "Mastodon",
        "https://mastodon.social/@Gargron/109313011346126443/embed",
    ),
]


@pytest.mark.parametrize(("pasted", "provider", "src"), PASTED)
def test_a_pasted_address_becomes_the_providers_player(pasted, provider, src):
    embed = embed_for_url(pasted)
    assert (embed.provider, embed.src) == (provider, src)
    # The cleaner keeps exactly that player: the editor and the cleaner share the table.
    assert embed_src(embed.src) == src
    assert clean_body_html(f'<iframe src="{embed.src}"></iframe>') == (
        f'<iframe src="{src.replace("&", "&amp;")}"></iframe>'
    )


def test_every_provider_of_the_issue_is_in_the_table_and_allowed_by_default():
    names = {provider.name for provider in PROVIDERS}
    for name in [
        "YouTube",
        "Vimeo",
        "SoundCloud",
        "Spotify",
        "Bandcamp",
        "Internet Archive",
        "PeerTube",
        "Mastodon",
    ]:
        assert name in names
    from django.conf import settings

    assert sorted(settings.EMBED_PATHS) == sorted({p.split("/")[0] for p in DEFAULT_PLAYERS})


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "Paste the address"),
        ("https://example.org/some/page", "does not know that address"),
        ("https://evil.example/w/abc123", "evil.example is not among the embed hosts"),
        ("https://band.bandcamp.com/album/songs", "Share / Embed"),
        ("https://www.youtube.com/watch?v=" + "x" * 3000, "too long"),
        ("javascript:alert(1)//https://youtu.be/dQw4w9WgXcQ", "does not know"),
    ],
)
def test_an_address_that_cannot_be_embedded_gets_a_clear_reason(pasted, message):
    with pytest.raises(EmbedError, match=message):
        embed_for_url(pasted)


def test_a_peertube_or_mastodon_server_can_be_allowed_by_the_operator(settings):
    settings.EMBED_PATHS = {**settings.EMBED_PATHS, "video.example.org": ["/videos/embed/"]}
    embed = embed_for_url("https://video.example.org/videos/watch/abc-123")
    assert embed.src == "https://video.example.org/videos/embed/abc-123"


def test_the_editor_asks_the_admin_for_the_player_without_any_network_call(editor_client):
    response = editor_client.get(
        "/admin/publishing/article/embed/", {"url": "https://youtu.be/dQw4w9WgXcQ"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "provider": "YouTube",
        "src": "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "page_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "height": 0,
    }
    refused = editor_client.get("/admin/publishing/article/embed/", {"url": "https://x.test/"})
    assert refused.status_code == 400
    assert "does not know that address" in refused.json()["error"]


def test_the_embed_endpoint_is_for_staff_only(client, db):
    response = client.get("/admin/publishing/article/embed/", {"url": "https://youtu.be/x"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_without_javascript_a_reader_gets_the_providers_name_and_a_link():
    body = clean_body_html(
        "<p>Watch:</p>"
        '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" title="The march" '
        'allow="fullscreen" allowfullscreen></iframe>'
        '<iframe src="https://w.soundcloud.com/player/?url=https%3A//soundcloud.com/a/b"></iframe>'
    )
    page = click_to_load(body)
    assert "<iframe" not in page
    assert "youtube-nocookie.com/embed/dQw4w9WgXcQ" in page  # only in data-embed-src
    assert not re.search(r"\ssrc=", page)  # nothing a browser would fetch
    assert '<p class="embed-provider">YouTube: The march</p>' in page
    assert '<a class="embed-link" href="https://www.youtube.com/watch?v=dQw4w9WgXcQ">' in page
    assert '<a class="embed-link" href="https://soundcloud.com/a/b">Open on SoundCloud</a>' in page
    # The button needs the script; without it, it stays hidden and the link does the work.
    assert '<button type="button" class="embed-load" hidden>' in page
    assert 'data-embed-height="166"' in page  # an audio player keeps its height


def test_an_iframe_with_fallback_text_inside_is_a_placeholder_too():
    body = clean_body_html(
        '<iframe src="https://player.vimeo.com/video/1">Your browser <b>cannot</b></iframe>'
    )
    page = click_to_load(body)
    assert "<iframe" not in page
    assert 'data-embed-provider="Vimeo"' in page


def test_the_article_page_shows_placeholders_and_loads_the_script_only_with_embeds(
    client, make_article
):
    with_embed = make_article(
        "Embed",
        body='<p>Watch:</p><iframe src="https://player.vimeo.com/video/76979871?dnt=1"></iframe>',
    )
    page = client.get(with_embed.get_absolute_url()).content.decode()
    assert "<iframe" not in page
    assert 'data-embed-provider="Vimeo"' in page
    assert 'href="https://vimeo.com/76979871"' in page
    assert "publishing/embeds" in page
    plain = make_article("Plain", body="<p>Text only.</p>")
    assert "publishing/embeds" not in client.get(plain.get_absolute_url()).content.decode()


@browser_test[0]
@browser_test[1]
def test_in_chromium_no_request_reaches_the_provider_until_the_reader_clicks(
    live_server, transactional_db, make_article, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    article = make_article(
        "Embedded",
        body='<p>Watch:</p><iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" '
        'title="The march" allowfullscreen></iframe>',
    )
    to_provider: list[str] = []
    with chromium_page() as page:
        # Every request leaving for the provider is recorded and answered here (the network is
        # closed): its arrival is what the test watches.
        def provider(route) -> None:
            to_provider.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<p>player</p>")

        page.route("https://www.youtube-nocookie.com/**", provider)
        page.goto(live_server.url + article.get_absolute_url(), wait_until="networkidle")
        placeholder = page.locator(".embed")
        expect(placeholder.get_by_text("YouTube: The march")).to_be_visible()
        assert page.locator("iframe").count() == 0
        assert to_provider == []
        button = page.get_by_role("button", name="Load the YouTube player")
        expect(button).to_be_visible()  # the script revealed it
        button.click()
        frame = page.locator("iframe.embed-player")
        frame.wait_for(state="attached")
        page.wait_for_timeout(200)
        src = frame.get_attribute("src")
        allowed_fullscreen = frame.evaluate("frame => frame.allowFullscreen")
        page.wait_for_load_state("networkidle")
    assert src == "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
    assert allowed_fullscreen is True
    assert to_provider == ["https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"]
