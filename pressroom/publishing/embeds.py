"""Embeds: the one table of providers whose players an article may carry.

The editor turns a pasted address into the provider's player (`embed_for_url`, no network call),
the HTML cleaner lets through only iframes of these players (settings.EMBED_HOSTS defaults to
`DEFAULT_PLAYERS`), and public pages show each embed as a placeholder that loads the player only
when the reader asks (`click_to_load`): no request reaches the third party before that. Feeds
carry a link to the embedded page instead of the player (`embeds_as_links`).

This module imports nothing from Django at import time so that settings.py can read the table.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Provider:
    """A provider: how its pages' addresses look, and where its players live."""

    name: str
    # The players (host/path entries in EMBED_HOSTS form) that the cleaner lets through.
    players: tuple[str, ...]
    # Addresses a writer pastes (a page or the player itself); named groups feed `player`.
    patterns: tuple[re.Pattern[str], ...]
    player: str  # the iframe src, formatted with the pattern's named groups
    page: str  # a reader's link back to the page, formatted with the player's named groups
    player_pattern: re.Pattern[str]  # a player src, to name the provider and link back
    height: int = 0  # a fixed player height (audio players); 0 keeps a 16:9 video shape


def _compile(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.I) for pattern in patterns)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        name="YouTube",
        players=("www.youtube-nocookie.com/embed/", "www.youtube.com/embed/"),
        patterns=_compile(
            r"https?://(?:www\.|m\.|music\.)?youtube\.com/watch\?(?:[^#]*&)?v=(?P<id>[\w-]{11})",
            r"https?://(?:www\.|m\.)?youtube(?:-nocookie)?\.com/(?:embed|shorts|live|v)/(?P<id>[\w-]{11})",
            r"https?://youtu\.be/(?P<id>[\w-]{11})",
        ),
        # The no-cookie player: YouTube sets no cookie until the video is played.
        player="https://www.youtube-nocookie.com/embed/{id}",
        page="https://www.youtube.com/watch?v={id}",
        player_pattern=re.compile(
            r"https://www\.youtube(?:-nocookie)?\.com/embed/(?P<id>[\w-]+)", re.I
        ),
    ),
    Provider(
        name="Vimeo",
        players=("player.vimeo.com/video/",),
        patterns=_compile(
            r"https?://(?:www\.)?vimeo\.com/(?:channels/[\w-]+/|groups/[\w-]+/videos/)?(?P<id>\d+)",
            r"https?://player\.vimeo\.com/video/(?P<id>\d+)",
        ),
        # dnt=1: Vimeo's player does not track the viewer.
        player="https://player.vimeo.com/video/{id}?dnt=1",
        page="https://vimeo.com/{id}",
        player_pattern=re.compile(r"https://player\.vimeo\.com/video/(?P<id>\d+)", re.I),
    ),
    Provider(
        name="SoundCloud",
        players=("w.soundcloud.com/player/",),
        patterns=_compile(
            r"https?://(?:www\.|m\.)?soundcloud\.com/(?P<path>[\w-]+/(?:sets/)?[\w-]+)/?(?:[?#].*)?$",
        ),
        player="https://w.soundcloud.com/player/?url=https%3A//soundcloud.com/{path}",
        page="https://soundcloud.com/{path}",
        player_pattern=re.compile(
            r"https://w\.soundcloud\.com/player/\?(?:[^#]*&)?url=https(?::|%3A)//"
            r"(?:api\.)?soundcloud\.com/(?P<path>[\w/%-]+)",
            re.I,
        ),
        height=166,
    ),
    Provider(
        name="Spotify",
        players=("open.spotify.com/embed/",),
        patterns=_compile(
            r"https?://open\.spotify\.com/(?:intl-[\w-]+/)?(?:embed/)?"
            r"(?P<kind>track|album|playlist|episode|show|artist)/(?P<id>\w+)",
        ),
        player="https://open.spotify.com/embed/{kind}/{id}",
        page="https://open.spotify.com/{kind}/{id}",
        player_pattern=re.compile(
            r"https://open\.spotify\.com/embed/(?P<kind>\w+)/(?P<id>\w+)", re.I
        ),
        height=152,
    ),
    Provider(
        name="Bandcamp",
        players=("bandcamp.com/EmbeddedPlayer/",),
        # A Bandcamp page's address does not name its album or track number; the player's does
        # (Share / Embed on Bandcamp), so that is the address to paste.
        patterns=_compile(
            r"https?://bandcamp\.com/EmbeddedPlayer/(?:v=2/)?(?P<item>(?:album|track)=\d+)",
        ),
        player="https://bandcamp.com/EmbeddedPlayer/{item}/size=large/tracklist=false/artwork=small/",
        page="https://bandcamp.com/EmbeddedPlayer/{item}/",
        player_pattern=re.compile(
            r"https://bandcamp\.com/EmbeddedPlayer/(?:v=2/)?(?P<item>(?:album|track)=\d+)", re.I
        ),
        height=120,
    ),
    Provider(
        name="Internet Archive",
        players=("archive.org/embed/",),
        patterns=_compile(
            r"https?://(?:www\.)?archive\.org/(?:details|embed)/(?P<id>[\w.-]+(?:/[^?#\s]+)?)",
        ),
        player="https://archive.org/embed/{id}",
        page="https://archive.org/details/{id}",
        player_pattern=re.compile(r"https://archive\.org/embed/(?P<id>[^?#]+)", re.I),
    ),
    Provider(
        name="PeerTube",
        players=("peertube.tv/videos/embed/",),
        # Any PeerTube server: its address shape; the cleaner still allows only the servers
        # listed in EMBED_HOSTS.
        patterns=_compile(
            r"https://(?P<host>[\w.-]+\.[a-z]{2,})/(?:w|videos/watch|videos/embed)/(?P<id>[\w-]+)/?(?:[?#].*)?$",
        ),
        player="https://{host}/videos/embed/{id}",
        page="https://{host}/w/{id}",
        player_pattern=re.compile(r"https://(?P<host>[\w.-]+)/videos/embed/(?P<id>[\w-]+)", re.I),
    ),
    Provider(
        name="Mastodon",
        players=("mastodon.social/@*/*/embed",),
        # A post on any Mastodon server (@user/number); allowed servers as for PeerTube.
        patterns=_compile(
            r"https://(?P<host>[\w.-]+\.[a-z]{2,})/(?P<user>@[\w.-]+(?:@[\w.-]+)?)/(?P<id>\d+)(?:/embed)?/?(?:[?#].*)?$",
        ),
        player="https://{host}/{user}/{id}/embed",
        page="https://{host}/{user}/{id}",
        player_pattern=re.compile(
            r"https://(?P<host>[\w.-]+)/(?P<user>@[\w.-]+)/(?P<id>\d+)/embed", re.I
        ),
        height=400,
    ),
    Provider(
        name="OpenStreetMap",
        players=("www.openstreetmap.org/export/embed.html",),
        patterns=_compile(
            r"https://www\.openstreetmap\.org/export/embed\.html\?(?P<query>[^#\s]+)"
        ),
        player="https://www.openstreetmap.org/export/embed.html?{query}",
        page="https://www.openstreetmap.org/export/embed.html?{query}",
        player_pattern=re.compile(
            r"https://www\.openstreetmap\.org/export/embed\.html\?(?P<query>[^#]*)", re.I
        ),
    ),
    Provider(
        name="Google Maps",
        players=("www.google.com/maps/embed",),
        patterns=_compile(r"https://www\.google\.com/maps/embed\?(?P<query>pb=[^#\s]+)"),
        player="https://www.google.com/maps/embed?{query}",
        page="https://www.google.com/maps/embed?{query}",
        player_pattern=re.compile(r"https://www\.google\.com/maps/embed\?(?P<query>[^#]*)", re.I),
    ),
)

# The default of EMBED_HOSTS: every provider's players.
DEFAULT_PLAYERS: list[str] = [player for provider in PROVIDERS for player in provider.players]
MAX_URL_LENGTH = 2000
_IFRAME_SRC = re.compile(r"""<iframe\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


@dataclass(frozen=True)
class Embed:
    provider: str
    src: str  # the player, for the iframe
    page_url: str  # the page a reader can open instead
    height: int  # 0: a video's 16:9 shape


class EmbedError(ValueError):
    """A pasted address that cannot become an embed; the message says why, for the writer."""


def embed_for_url(pasted: str) -> Embed:
    """The embed for an address (or a provider's embed code) a writer pasted. No network call:
    the provider and the player are read off the address. Raises EmbedError with a message."""
    from pressroom.publishing.html import embed_src

    text = (pasted or "").strip()
    if len(text) > MAX_URL_LENGTH:
        raise EmbedError(f"That address is too long (the limit is {MAX_URL_LENGTH} characters).")
    iframe = _IFRAME_SRC.search(text)
    if iframe:  # a provider's embed code: its player's address is what counts
        text = html.unescape(iframe.group(1) or iframe.group(2) or "").strip()
    if not text:
        raise EmbedError("Paste the address of a video, a recording or a post.")
    for provider in PROVIDERS:
        for pattern in provider.patterns:
            match = pattern.match(text)
            if match is None:
                continue
            groups = {key: value for key, value in match.groupdict().items() if value}
            src = provider.player.format(**groups)
            allowed = embed_src(src)
            if allowed is None:
                host = urlsplit(src).hostname or ""
                raise EmbedError(
                    f"{host} is not among the embed hosts this site allows; an operator can "
                    f"add “{host}{urlsplit(src).path.rsplit('/', 1)[0]}/” to EMBED_HOSTS."
                )
            return Embed(
                provider=provider.name,
                src=allowed,
                page_url=provider.page.format(**groups),
                height=provider.height,
            )
    if re.match(r"https?://[\w.-]*bandcamp\.com/", text, re.I):
        raise EmbedError(
            "A Bandcamp page's address does not say which album it is: on Bandcamp choose "
            "Share / Embed, copy the embed code and paste that here."
        )
    raise EmbedError(
        "Pressroom does not know that address. Paste a YouTube, Vimeo, SoundCloud, Spotify, "
        "Bandcamp, Internet Archive, PeerTube or Mastodon address."
    )


def describe_player(src: str) -> tuple[str, str, int]:
    """The provider's name, the page to link to and the player's height for an iframe src the
    cleaner let through; an EMBED_HOSTS player outside the table is named by its host."""
    for provider in PROVIDERS:
        match = provider.player_pattern.match(src)
        if match is None:
            continue
        groups = {key: unquote(value) for key, value in match.groupdict().items()}
        return provider.name, provider.page.format(**groups), provider.height
    return urlsplit(src).hostname or src, src, 0


# An iframe as the cleaner writes it: attributes in double quotes, nothing inside.
_IFRAME = re.compile(r"<iframe\b([^>]*)>.*?</iframe>", re.I | re.S)
_ATTRIBUTE = re.compile(r'([\w-]+)(?:="([^"]*)")?')


def click_to_load(body_html: str) -> str:
    """Every iframe of a cleaned body as a placeholder: the provider's name, a link to the page
    (works without JavaScript) and a button that embeds.js turns into the player on a click.
    Nothing in it makes the browser contact the provider."""
    if "<iframe" not in body_html:
        return body_html
    return _IFRAME.sub(_placeholder, body_html)


def embeds_as_links(body_html: str) -> str:
    """Every iframe of a cleaned body as a paragraph naming the provider with a link to the
    embedded page, for feeds: feed readers drop iframes (or load the third party's player
    without asking the reader), partner sites republishing the feed should not carry players."""
    if "<iframe" not in body_html:
        return body_html
    return _IFRAME.sub(_link_paragraph, body_html)


def _iframe_attributes(match: re.Match[str]) -> dict[str, str]:
    return {
        name.lower(): html.unescape(value or "") for name, value in _ATTRIBUTE.findall(match[1])
    }


def _link_paragraph(match: re.Match[str]) -> str:
    attributes = _iframe_attributes(match)
    src = attributes.get("src", "")
    if not src:
        return ""
    name, page_url, _ = describe_player(src)
    title = attributes.get("title", "")
    return (
        f'<p class="embed-link">{html.escape(name)}{": " + html.escape(title) if title else ""}'
        f' — <a href="{html.escape(page_url)}">{html.escape(page_url)}</a></p>'
    )


def _placeholder(match: re.Match[str]) -> str:
    attributes = _iframe_attributes(match)
    src = attributes.get("src", "")
    if not src:
        return ""
    name, page_url, height = describe_player(src)
    width = attributes.get("width", "")
    if attributes.get("height", "").isascii() and attributes.get("height", "").isdigit():
        height = int(attributes["height"])
    data = {
        "data-embed-src": src,
        "data-embed-title": attributes.get("title") or f"{name} player",
        "data-embed-allow": attributes.get("allow", ""),
        "data-embed-allowfullscreen": "true" if "allowfullscreen" in attributes else "",
        "data-embed-height": str(height or ""),
        "data-embed-width": width if width.isascii() and width.isdigit() else "",
    }
    data_html = "".join(f' {key}="{html.escape(value)}"' for key, value in data.items() if value)
    if attributes.get("id"):
        data_html += f' id="{html.escape(attributes["id"])}"'
    label = html.escape(attributes.get("title") or "")
    return (
        f'<div class="embed" data-embed-provider="{html.escape(name)}"{data_html}>'
        f'<p class="embed-provider">{html.escape(name)}{": " + label if label else ""}</p>'
        f'<p><a class="embed-link" href="{html.escape(page_url)}">Open on {html.escape(name)}</a>'
        f"</p>"
        f'<button type="button" class="embed-load" hidden>Load the {html.escape(name)} player'
        f"</button>"
        f'<p class="embed-notice">Loading it connects to {html.escape(name)}, which may record '
        f"your visit.</p></div>"
    )
