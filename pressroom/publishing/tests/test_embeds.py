"""Embeds are judged the way browsers read their URL (WHATWG rules) and rebuilt from its parts;
article bodies cannot shadow the page's own ids."""

from __future__ import annotations

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
