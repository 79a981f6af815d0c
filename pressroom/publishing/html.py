"""HTML cleaning and plain-text excerpts for article bodies.

Every body that reaches the database goes through `clean_body_html`: editor input, imports and
partner feeds alike. The allow-list keeps what journalism needs (headings, lists, links, images,
quotes, figures, tables, audio, video, details, embeds from known players) and drops scripts, event handlers and
`javascript:` URLs.
"""

import html
import re
from functools import lru_cache

import ada_url
import nh3
from django.conf import settings

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "del",
    "ins",
    "sub",
    "sup",
    "mark",
    "small",
    "abbr",
    "cite",
    "q",
    "code",
    "pre",
    "kbd",
    "blockquote",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "a",
    "img",
    "figure",
    "figcaption",
    "picture",
    "source",
    "table",
    "caption",
    # Not thead, tbody, tfoot, colgroup or col: the body editor writes a table as rows in one
    # tbody with no column groups, so they would not survive an edit. Their rows and cells are
    # kept (header cells stay <th> with their scope, which is what screen readers use).
    "tr",
    "th",
    "td",
    "iframe",
    "video",
    "audio",
    "track",
    "span",
    "div",
    "time",
    "address",
    "details",
    "summary",
    "h1",
}
# Every element and attribute here has a node, a mark or an attribute in the body editor
# (publishing/static/publishing/editor-blocks.js), so that editing loses none of them; the
# browser test test_editor_round_trip.py is built from these two lists.
ALLOWED_ATTRIBUTES = {
    "*": {"lang", "dir", "title", "id"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "srcset", "sizes", "loading"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "iframe": {"src", "width", "height", "allowfullscreen", "allow", "loading"},
    "video": {"src", "controls", "poster", "width", "height", "preload"},
    "audio": {"src", "controls", "preload"},
    "track": {"src", "kind", "srclang", "label"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "abbr": {"title"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start", "reversed", "type"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
# Characters XML 1.0 forbids (C0 controls other than tab, LF and CR; U+FFFE and U+FFFF). One of
# them in a title or body makes every feed that carries it unserializable; no writing needs them.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The same characters one by one: looking for each in turn is ten times quicker than the class
# over a long body, and nearly every text holds none.
_CONTROL_CHARACTER_LIST = tuple(
    character
    for character in map(chr, [*range(0x20), 0xFFFE, 0xFFFF])
    if CONTROL_CHARACTERS.match(character)
)
BLOCK_TAGS = "p|div|h[1-6]|ul|ol|li|blockquote|figure|figcaption|table|tr|pre|section|article|br"
_BLOCK_TAG = re.compile(rf"</?(?:{BLOCK_TAGS})\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>]*>")
_PARAGRAPH = re.compile(r"<p\b[^>]*>(.*?)</p>", re.S | re.I)


# What an embed may be granted (Permissions Policy); camera, microphone, geolocation, payment
# and the rest are never delegated to a third-party player.
EMBED_PERMISSIONS = {
    "accelerometer",
    "autoplay",
    "clipboard-write",
    "encrypted-media",
    "fullscreen",
    "gyroscope",
    "picture-in-picture",
    "web-share",
}
# Ids from article bodies are prefixed so that none can shadow the page's own (#content, the
# campaign banner's ...) or clobber a global a script reads; in-body links follow the prefix.
BODY_ID_PREFIX = "body-"
IFRAME_WITHOUT_SRC = re.compile(r"<iframe\b(?![^>]*\ssrc=)[^>]*>.*?</iframe>", re.I | re.S)
# What sits between <iframe> and </iframe> is never shown (browsers read it as raw text, and a
# feed reader that drops the iframe would show it as text, tags and all): it goes on save.
IFRAME_CONTENT = re.compile(r"(<iframe\b[^>]*>).*?(</iframe>)", re.I | re.S)


def _embed_path_pattern(path: str) -> re.Pattern[str]:
    """An EMBED_HOSTS path as a regular expression: `*` is one segment, a final `/` a prefix."""
    if not path:
        return re.compile(r"/.*", re.DOTALL)
    pattern = "".join("[^/]+" if character == "*" else re.escape(character) for character in path)
    return re.compile(pattern + (".*" if path.endswith("/") else ""), re.DOTALL)


def _allowed_embed_path(host: str, path: str) -> bool:
    """Whether the host is an embed host and the path one of its players' (EMBED_HOSTS)."""
    patterns = settings.EMBED_PATHS.get(host)
    if not patterns:
        return False
    return any(_embed_path_pattern(pattern).fullmatch(path) for pattern in patterns)


def embed_src(value: str) -> str | None:
    """The iframe `src` rebuilt from the parts a browser reads, or None when not allowed.

    Parsed by the WHATWG URL rules (ada-url), as browsers do: Python's urlsplit reads the host of
    `https://evil.example\\@www.youtube.com/` as www.youtube.com, a browser as evil.example. A
    backslash, credentials, a port or any scheme but https refuses the embed outright."""
    if "\\" in value or any(ord(character) < 0x21 for character in value.strip()):
        return None
    try:
        url = ada_url.parse_url(value.strip())
    except ValueError:
        return None
    if url["protocol"] != "https:" or url["username"] or url["password"] or url["port"]:
        return None
    if "@" in value.strip()[len("https://") :].split("/")[0]:
        return None  # even an empty user part: a host is named one way only
    if not _allowed_embed_path(url["hostname"], url["pathname"]):
        return None
    return f"https://{url['hostname']}{url['pathname']}{url['search']}{url['hash']}"


_URL_IGNORED_CHARACTERS = re.compile(r"[\t\n\r]")
_URL_LEADING_CHARACTERS = "".join(chr(code) for code in range(33))
_URL_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


def _has_safe_scheme(url: str) -> bool:
    """A relative URL, or one whose scheme (as a browser reads it) is in URL_SCHEMES."""
    if "\t" in url or "\n" in url or "\r" in url:
        url = _URL_IGNORED_CHARACTERS.sub("", url)
    match = _URL_SCHEME.match(url.lstrip(_URL_LEADING_CHARACTERS))
    return match is None or match.group(1).lower() in URL_SCHEMES


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    if attribute == "srcset":
        # nh3 checks the schemes of src and href, not of each srcset candidate.
        candidates = [candidate.strip() for candidate in value.split(",") if candidate.strip()]
        return value if all(_has_safe_scheme(c) for c in candidates) else None
    if attribute in URL_ATTRIBUTES and not _has_safe_scheme(value):
        return None  # nh3 leaves cite (and some others) unchecked; check every URL here
    if element == "iframe" and attribute == "src":
        return embed_src(value)
    if element == "iframe" and attribute == "allow":
        granted = [
            token.strip()
            for token in value.split(";")
            if token.strip().split(" ")[0] in EMBED_PERMISSIONS
        ]
        return "; ".join(token.split(" ")[0] for token in granted) or None
    if attribute == "id":
        value = value.strip()
        if not value:
            return None
        return value if value.startswith(BODY_ID_PREFIX) else BODY_ID_PREFIX + value
    if (
        element == "a"
        and attribute == "href"
        and value.startswith("#")
        and len(value) > 1
        and not value[1:].startswith(BODY_ID_PREFIX)
    ):
        return "#" + BODY_ID_PREFIX + value[1:]
    return value


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=_filter_attribute,
        strip_comments=True,
    )


def strip_control_characters(text: str) -> str:
    """`text` without the control characters XML cannot carry (see CONTROL_CHARACTERS)."""
    for character in _CONTROL_CHARACTER_LIST:
        if character in text:
            return CONTROL_CHARACTERS.sub("", text)
    return text


def clean_body_html(raw: str) -> str:
    """Return `raw` with everything outside the allow-list removed."""
    # After cleaning too: nh3 decodes "&#x0b;" and "&#1;" into the raw characters.
    cleaned = _cleaner().clean(strip_control_characters(raw))
    # An iframe whose src was refused goes entirely (with its `allow` and size).
    cleaned = IFRAME_WITHOUT_SRC.sub("", cleaned)
    if "<iframe" in cleaned:
        cleaned = IFRAME_CONTENT.sub(r"\1\2", cleaned)
    return strip_control_characters(cleaned).strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, whitespace folded.

    Block tags and line breaks separate words; inline tags (<em>, <a>, ...) do not, so
    "un<em>believ</em>able" stays one word.
    """
    text = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", fragment))
    return " ".join(strip_control_characters(html.unescape(text)).split())


def first_paragraph_text(body_html: str) -> str:
    """The first block of the body that has any text in it, as plain text."""
    for match in _PARAGRAPH.finditer(body_html):
        text = html_to_text(match.group(1))
        if text:
            return text
    # Bodies without <p> (imports, pasted text): fall back to the first block of text.
    for chunk in _BLOCK_TAG.split(body_html):
        text = html_to_text(chunk)
        if text:
            return text
    return ""


def truncate_words(text: str, limit: int) -> str:
    """`text` cut to `limit` words at a word boundary, with an ellipsis when cut."""
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(",;:—–-") + "…"


def make_excerpt(body_html: str, editor_excerpt: str = "", limit: int | None = None) -> str:
    """The editor's excerpt when given, else the body's first paragraph cut at `limit` words."""
    limit = limit or settings.EXCERPT_WORDS
    if editor_excerpt and editor_excerpt.strip():
        return html_to_text(editor_excerpt)
    return truncate_words(first_paragraph_text(body_html), limit)
