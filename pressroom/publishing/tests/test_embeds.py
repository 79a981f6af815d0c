"""Embeds are judged the way browsers read their URL (WHATWG rules) and rebuilt from its parts;
article bodies cannot shadow the page's own ids."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from pressroom.publishing.html import clean_body_html, embed_src

REFUSED = [
    "https://evil.example\\@www.youtube.com/embed/x",
    "https://evil.example\\www.youtube.com/embed/x",
    "https:\\\\www.youtube.com/embed/x",
    "https://user:password@www.youtube.com/embed/x",
    "https://@www.youtube.com/embed/x",
    "https://www.youtube.com@evil.example/embed/x",
    "https://www.youtube.com:8443/embed/x",
    "http://www.youtube.com/embed/x",
    "//www.youtube.com/embed/x",
    "javascript://www.youtube.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://www.youtube.com.evil.example/embed/x",
    "https://www.youtube.com%2eevil.example/embed/x",
    "https://www.you\ttube.com/embed/x",
    "https://www.youtube.com/embed/a b",
    "https://evil.example/embed/x",
    "",
    # An allowed host, but not one of its players: an open redirect, a whole site, a search.
    "https://www.google.com/url?q=https://evil.example",
    "https://www.google.com/search?q=x",
    "https://www.youtube.com/redirect?q=https://evil.example",
    "https://www.youtube.com/watch?v=x",
    "https://www.youtube.com/embedx",
    "https://player.vimeo.com/",
    "https://archive.org/details/x",
    "https://mastodon.social/@ana/1/embed/../../../../redirect",
    "https://mastodon.social/@ana/embed",
]


@pytest.mark.parametrize("src", REFUSED)
def test_an_embed_browsers_would_load_from_elsewhere_is_refused(src):
    assert embed_src(src) is None


@pytest.mark.parametrize(
    ("src", "rebuilt"),
    [
        ("https://www.youtube.com/embed/x?start=5#t", "https://www.youtube.com/embed/x?start=5#t"),
        ("HTTPS://WWW.YOUTUBE.COM:443/embed/x", "https://www.youtube.com/embed/x"),
        ("  https://player.vimeo.com/video/1  ", "https://player.vimeo.com/video/1"),
        ('https://www.youtube.com/embed/ä"x', "https://www.youtube.com/embed/%C3%A4%22x"),
        ("https://www.google.com/maps/embed?pb=1", "https://www.google.com/maps/embed?pb=1"),
        ("https://mastodon.social/@ana/1234/embed", "https://mastodon.social/@ana/1234/embed"),
        ("https://peertube.tv/videos/embed/abc", "https://peertube.tv/videos/embed/abc"),
        (
            "https://bandcamp.com/EmbeddedPlayer/album=1/",
            "https://bandcamp.com/EmbeddedPlayer/album=1/",
        ),
    ],
)
def test_an_allowed_embed_is_rebuilt_from_its_parsed_parts(src, rebuilt):
    assert embed_src(src) == rebuilt


def test_the_backslash_embed_is_dropped_whole_with_its_permissions(db, client, make_article):
    body = (
        '<p>Watch:</p><iframe src="https://evil.example\\@www.youtube.com/embed/x" '
        'allow="camera; microphone; autoplay" allowfullscreen></iframe>'
    )
    article = make_article("Embed", body=body)
    assert "<iframe" not in article.body
    assert "allow" not in article.body
    page = client.get(article.get_absolute_url()).content.decode()
    assert "evil.example" not in page
    for url in ["/feed/", "/feed/atom/"]:
        assert "evil.example" not in client.get(url).content.decode()


def test_an_embed_keeps_only_harmless_permissions():
    cleaned = clean_body_html(
        '<iframe src="https://www.youtube.com/embed/x" '
        'allow="camera *; autoplay; geolocation; encrypted-media; payment"></iframe>'
    )
    assert cleaned == (
        '<iframe src="https://www.youtube.com/embed/x" allow="autoplay; encrypted-media"></iframe>'
    )


def test_body_ids_are_prefixed_so_none_shadows_the_page_and_in_body_links_follow():
    cleaned = clean_body_html(
        '<h2 id="content">Notes</h2><p>See <a href="#fn1">1</a>.</p>'
        '<p id="fn1">The note.</p><p id="campaign-banner">x</p>'
    )
    assert 'id="content"' not in cleaned
    assert 'id="campaign-banner"' not in cleaned
    assert 'id="body-content"' in cleaned
    assert 'href="#body-fn1"' in cleaned
    assert 'id="body-fn1"' in cleaned
    assert clean_body_html(cleaned) == cleaned  # saving again does not prefix twice


def test_an_article_page_has_one_element_with_the_id_content(db, client, make_article):
    article = make_article("Shadow", body='<p id="content">Shadow</p><div id="content">x</div>')
    page = client.get(article.get_absolute_url()).content.decode()
    assert page.count('id="content"') == 1


def test_a_bare_host_in_embed_hosts_allows_any_of_its_paths(settings):
    settings.EMBED_PATHS = {"video.example.org": [""], "www.youtube.com": ["/embed/"]}
    assert embed_src("https://video.example.org/anything") == "https://video.example.org/anything"
    assert embed_src("https://www.youtube.com/watch?v=x") is None


def test_an_iframe_to_an_allowed_host_but_another_path_is_removed():
    cleaned = clean_body_html(
        '<p>Map</p><iframe src="https://www.google.com/url?q=https://evil.example"></iframe>'
    )
    assert "<iframe" not in cleaned
    assert "evil.example" not in cleaned


def test_a_mistyped_embed_entry_stops_start_up_with_one_clear_line(tmp_path):
    from tests.test_startup import clean_env, run_pressroom

    result = run_pressroom(
        "check",
        env=clean_env(
            SECRET_KEY="kP3vN8qX2mR7tW4yZ9bC6dF1gH5jL0sA3eU8iO2",
            EMBED_HOSTS="www.youtube.com/embed/,https://evil.example/",
            PRESSROOM_VAR_DIR=str(tmp_path),
        ),
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "pressroom: configuration error: EMBED_HOSTS entries must be a host name with an "
        "optional path, not 'https://evil.example/'"
    ]


def test_what_sits_inside_an_iframe_is_dropped_on_save():
    cleaned = clean_body_html(
        '<p>a</p><iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" title="March">'
        "fallback <b>text</b> &lt;script&gt;alert(1)&lt;/script&gt;</iframe><p>b</p>"
    )
    assert cleaned == (
        '<p>a</p><iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" title="March">'
        "</iframe><p>b</p>"
    )


@pytest.mark.parametrize("path", ["/feed/", "/feed/atom/"])
def test_feeds_carry_a_link_to_the_embedded_page_instead_of_the_player(
    db, client, make_article, path
):
    make_article(
        "Miners march on Lima",
        body=(
            "<p>Watch the march.</p>"
            '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" title="The march"'
            ' width="560" height="315" allowfullscreen></iframe>'
            '<iframe src="https://w.soundcloud.com/player/?url=https%3A//soundcloud.com/radio/'
            'marcha"></iframe><p>After.</p>'
        ),
    )
    feed = ElementTree.fromstring(client.get(path).content)  # noqa: S314 (our own output)
    contents = [
        element.text or ""
        for element in feed.iter()
        if element.tag
        in (
            "{http://purl.org/rss/1.0/modules/content/}encoded",
            "{http://www.w3.org/2005/Atom}content",
        )
    ]
    [content] = contents
    assert "<iframe" not in content
    assert (
        '<p class="embed-link">YouTube: The march — <a href="https://www.youtube.com/watch?v='
        'dQw4w9WgXcQ">https://www.youtube.com/watch?v=dQw4w9WgXcQ</a></p>'
    ) in content
    assert (
        '<p class="embed-link">SoundCloud — <a href="https://soundcloud.com/radio/marcha">'
        "https://soundcloud.com/radio/marcha</a></p>"
    ) in content
    assert content.startswith("<p>Watch the march.</p>")
    assert content.endswith("<p>After.</p>")
