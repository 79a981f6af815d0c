"""HTML cleaning and plain-text excerpts for article bodies.

Every body that reaches the database goes through `clean_body_html`: editor input, imports and
partner feeds alike. The allow-list keeps what journalism needs (headings, lists, links, images,
quotes, figures, tables, embeds from known hosts) and drops scripts, event handlers and
`javascript:` URLs.
"""

import html
import re
from functools import lru_cache
from urllib.parse import urlsplit

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
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "colgroup",
    "col",
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
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed", "type"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
# Characters XML 1.0 forbids (C0 controls other than tab, LF and CR; U+FFFE and U+FFFF). One of
# them in a title or body makes every feed that carries it unserializable; no writing needs them.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
BLOCK_TAGS = "p|div|h[1-6]|ul|ol|li|blockquote|figure|figcaption|table|tr|pre|section|article|br"


def _drop_foreign_embeds(element: str, attribute: str, value: str) -> str | None:
    """Keep an iframe's src only when it points at an allowed embed host over https."""
    if element == "iframe" and attribute == "src":
        parts = urlsplit(value)
        if parts.scheme != "https" or parts.hostname not in settings.EMBED_HOSTS:
            return None
    return value


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=_drop_foreign_embeds,
        strip_comments=True,
    )


def strip_control_characters(text: str) -> str:
    """`text` without the control characters XML cannot carry (see CONTROL_CHARACTERS)."""
    return CONTROL_CHARACTERS.sub("", text)


def clean_body_html(raw: str) -> str:
    """Return `raw` with everything outside the allow-list removed."""
    # After cleaning too: nh3 decodes "&#x0b;" and "&#1;" into the raw characters.
    return strip_control_characters(_cleaner().clean(strip_control_characters(raw))).strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, whitespace folded.

    Block tags and line breaks separate words; inline tags (<em>, <a>, ...) do not, so
    "un<em>believ</em>able" stays one word.
    """
    text = re.sub(rf"</?(?:{BLOCK_TAGS})\b[^>]*>", " ", fragment, flags=re.I)
    text = re.sub(r"<[^>]*>", "", text)
    return " ".join(strip_control_characters(html.unescape(text)).split())


def first_paragraph_text(body_html: str) -> str:
    """The first block of the body that has any text in it, as plain text."""
    for match in re.finditer(r"<p\b[^>]*>(.*?)</p>", body_html, flags=re.S | re.I):
        text = html_to_text(match.group(1))
        if text:
            return text
    # Bodies without <p> (imports, pasted text): fall back to the first block of text.
    for chunk in re.split(rf"</?(?:{BLOCK_TAGS})\b[^>]*>", body_html, flags=re.I):
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
