"""Turn WordPress post content into the HTML WordPress would have shown. No database.

WordPress stores classic-editor posts without paragraphs and adds them when it displays them
(wpautop); block-editor posts carry their markup between <!-- wp:... --> comments; both may hold
shortcodes. `wordpress_body_html` does what WordPress's display filters did, so the imported
article reads as it did on the old site. The result still goes through clean_body_html.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from pressroom.publishing.html import html_to_text, strip_control_characters, truncate_words

# wp-includes/formatting.php: the block-level tags wpautop never wraps in <p>.
ALL_BLOCKS = (
    r"(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre"
    r"|form|map|area|blockquote|address|style|p|h[1-6]|hr|fieldset|legend|section|article"
    r"|aside|hgroup|header|footer|nav|figure|figcaption|details|menu|summary)"
)
_BLOCK_OPEN = re.compile(r"(<" + ALL_BLOCKS + r"[\s/>])")
_BLOCK_CLOSE = re.compile(r"(</" + ALL_BLOCKS + r">)")
_HTML_PARTS = re.compile(r"(<!--.*?-->|<[^>]*>?)", re.S)
_PRESERVE = re.compile(r"<(script|style|svg|math).*?</\1>", re.S)
NEWLINE_MARK = " <!-- wpnl --> "


def _replace_newlines_in_tags(text: str) -> str:
    """wp_replace_in_html_tags: a newline inside a tag must not become a paragraph break."""
    parts = _HTML_PARTS.split(text)
    for index in range(1, len(parts), 2):
        parts[index] = parts[index].replace("\n", NEWLINE_MARK)
    return "".join(parts)


_NEWLINE_RUN = re.compile(r"\n\s*")


def _newlines_to_breaks(text: str) -> str:
    """re.sub(r"(?<!<br />)\\s*\\n", "<br />\\n", text), without trying the pattern at every
    space of the post: each whitespace run holding a newline, up to its last newline, becomes
    one <br />, unless the run follows a <br /> and holds only that newline."""
    pieces: list[str] = []
    position = 0
    for match in _NEWLINE_RUN.finditer(text):
        first_newline = match.start()
        last_newline = text.rfind("\n", first_newline, match.end())
        start = first_newline
        while start > position and text[start - 1] in " \t\r\f\v":
            start -= 1
        if text[max(0, start - 6) : start] == "<br />":
            if start == first_newline and last_newline == first_newline:
                continue
            start += 1
        pieces += [text[position:start], "<br />\n"]
        position = last_newline + 1
    pieces.append(text[position:])
    return "".join(pieces)


_BR_PAIR = re.compile(r"<br\s*/?>\s*<br\s*/?>")
_HR = re.compile(r"(<hr\s*?/?>)")
_SPACE_BEFORE_OPTION = re.compile(r"\s*<option")
_SPACE_AFTER_OPTION = re.compile(r"</option>\s*")
_OBJECT_OPEN = re.compile(r"(<object[^>]*>)\s*")
_OBJECT_CLOSE = re.compile(r"\s*</object>")
_OBJECT_PARTS = re.compile(r"\s*(</?(?:param|embed)[^>]*>)\s*")
_MEDIA_OPEN = re.compile(r"([<\[](?:audio|video)[^>\]]*[>\]])\s*")
_MEDIA_CLOSE = re.compile(r"\s*([<\[]/(?:audio|video)[>\]])")
_MEDIA_SOURCE = re.compile(r"\s*(<(?:source|track)[^>]*>)\s*")
_SPACE_AFTER_FIGCAPTION = re.compile(r"</figcaption>\s*")
_NEWLINES = re.compile(r"\n\n+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_EMPTY_P = re.compile(r"<p>\s*</p>")
_UNCLOSED_P = re.compile(r"<p>([^<]++)</(div|address|form)>")
_P_AROUND_BLOCK = re.compile(r"<p>\s*(</?" + ALL_BLOCKS + r"[^>]*>)\s*</p>")
_P_AROUND_LI = re.compile(r"<p>(<li.+?)</p>")
_P_BEFORE_BLOCKQUOTE = re.compile(r"<p><blockquote([^>]*)>", re.I)
_P_BEFORE_BLOCK = re.compile(r"<p>\s*(</?" + ALL_BLOCKS + r"[^>]*>)")
_P_AFTER_BLOCK = re.compile(r"(</?" + ALL_BLOCKS + r"[^>]*>)\s*</p>")
_BR_AFTER_BLOCK = re.compile(r"(</?" + ALL_BLOCKS + r"[^>]*>)\s*<br />")
_BR_BEFORE_BLOCK = re.compile(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^>]*>)")
_LAST_NEWLINE = re.compile(r"\n</p>$")
_PRESERVED_TAGS = ("<script", "<style", "<svg", "<math")


def wpautop(text: str, br: bool = True) -> str:
    """A port of WordPress's wpautop(): double newlines make paragraphs, single ones <br />,
    never inside block elements or <pre>.

    Each replacement runs only when the text holds what its pattern needs ('<br', '<li', three
    newlines ...): a search for a few characters costs a tenth of a pattern's scan of the post,
    and most posts hold few kinds of markup. importers/tests/wpautop_reference.py keeps the
    straight port; a test holds the two equal."""
    if not text.strip():
        return ""
    pre_tags: dict[str, str] = {}
    text += "\n"
    if "<pre" in text:
        *pieces, last = text.split("</pre>")
        text = ""
        for number, piece in enumerate(pieces):
            start = piece.find("<pre")
            if start == -1:
                text += piece
                continue
            name = f"<pre wp-pre-tag-{number}></pre>"
            pre_tags[name] = piece[start:] + "</pre>"
            text += piece[:start] + name
        text += last

    if "<br" in text:
        text = _BR_PAIR.sub("\n\n", text)
    if "<" in text:
        text = _BLOCK_OPEN.sub(r"\n\n\1", text)
        text = _BLOCK_CLOSE.sub(r"\1\n\n", text)
    if "<hr" in text:
        text = _HR.sub("\\1\n\n", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "<" in text:
        text = _replace_newlines_in_tags(text)

    if "<option" in text:
        text = _SPACE_BEFORE_OPTION.sub("<option", text)
        text = _SPACE_AFTER_OPTION.sub("</option>", text)
    if "</object>" in text:
        text = _OBJECT_OPEN.sub(r"\1", text)
        text = _OBJECT_CLOSE.sub("</object>", text)
        text = _OBJECT_PARTS.sub(r"\1", text)
    if "<source" in text or "<track" in text:
        text = _MEDIA_OPEN.sub(r"\1", text)
        text = _MEDIA_CLOSE.sub(r"\1", text)
        text = _MEDIA_SOURCE.sub(r"\1", text)
    if "<figcaption" in text:
        # re.sub(r"\s*(<figcaption[^>]*>)", r"\1", text), without a scan at every space.
        *before, after = text.split("<figcaption")
        text = "<figcaption".join([piece.rstrip() for piece in before] + [after])
        text = _SPACE_AFTER_FIGCAPTION.sub("</figcaption>", text)

    if "\n\n\n" in text:
        text = _NEWLINES.sub("\n\n", text)
    paragraphs = [part for part in _PARAGRAPH_BREAK.split(text) if part]
    text = "".join("<p>" + part.strip("\n") + "</p>\n" for part in paragraphs)

    text = _EMPTY_P.sub("", text)
    if "</div>" in text or "</address>" in text or "</form>" in text:
        text = _UNCLOSED_P.sub(r"<p>\1</p></\2>", text)
    text = _P_AROUND_BLOCK.sub(r"\1", text)
    if "<li" in text:
        text = _P_AROUND_LI.sub(r"\1", text)
    if "<p><" in text or "<P><" in text:
        text = _P_BEFORE_BLOCKQUOTE.sub(r"<blockquote\1><p>", text)
    text = text.replace("</blockquote></p>", "</p></blockquote>")
    text = _P_BEFORE_BLOCK.sub(r"\1", text)
    text = _P_AFTER_BLOCK.sub(r"\1", text)

    if br:
        if any(tag in text for tag in _PRESERVED_TAGS):
            text = _PRESERVE.sub(lambda m: m.group(0).replace("\n", "<WPPreserveNewline />"), text)
        text = text.replace("<br>", "<br />").replace("<br/>", "<br />")
        text = _newlines_to_breaks(text)
        text = text.replace("<WPPreserveNewline />", "\n")

    if "<br />" in text:
        text = _BR_AFTER_BLOCK.sub(r"\1", text)
        text = _BR_BEFORE_BLOCK.sub(r"\1", text)
    if "\n</p>" in text:
        text = _LAST_NEWLINE.sub("</p>", text)
    for name, original in pre_tags.items():
        text = text.replace(name, original)
    if "<!-- wpnl -->" in text:
        text = text.replace(NEWLINE_MARK, "\n").replace("<!-- wpnl -->", "\n")
    return text


# Block editor ---------------------------------------------------------------------------------

_BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:[^>]*?-->\n?", re.S)


def is_block_content(content: str) -> bool:
    """WordPress's has_blocks(): block-editor content is never run through wpautop."""
    return "<!-- wp:" in content


def strip_block_comments(content: str) -> str:
    """Drop the <!-- wp:... --> delimiters and keep the HTML between them."""
    return _BLOCK_COMMENT.sub("", content)


# Shortcodes -----------------------------------------------------------------------------------

# Shortcodes that stand alone and produce media or widgets: without their plugin they vanish.
# Unknown unpaired [words] are left alone: in journalism "[sic]" or "[Editor's note ...]" are
# text, not shortcodes.
SELF_CLOSING_SHORTCODES = {
    "gallery", "playlist", "embed", "audio", "video", "caption", "wp_caption", "youtube",
    "vimeo", "soundcloud", "googlemaps", "contact-form", "contact-form-7", "gravityform",
    "gravityforms", "archives", "sitemap", "tweet", "twitter-timeline", "instagram", "slideshow",
    "polldaddy", "crowdsignal", "recipe", "dailymotion", "ted", "scribd", "slideshare", "wpvideo",
    "blip.tv", "flickr", "facebook", "spotify", "bandcamp", "mixcloud", "gist", "googleapps",
    "wufoo", "portfolio", "testimonials", "jetpack_subscription_form", "mailchimp", "rev_slider",
    "layerslider", "table", "ratings", "more", "nextpage", "email-subscribers", "wpforms", "ninja_form",
}  # fmt: skip
_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s'"\]]+))""")
_PAIRED = re.compile(
    r"\[([a-zA-Z][\w.-]*)((?:\s[^\]]*)?)\](.*?)\[/\1\]",
    re.S,
)
_UNPAIRED = re.compile(r"\[([a-zA-Z][\w.-]*)((?:\s[^\]]*)?)/?\]")
_ESCAPED = re.compile(r"\[(\[[^\[\]]+\])\]")
_LEADING_IMAGE = re.compile(r"^\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(.*)$", re.S | re.I)
MEDIA_SOURCE_ATTRIBUTES = ("src", "mp3", "m4a", "ogg", "wav", "mp4", "m4v", "webm", "ogv", "wmv")


def shortcode_attributes(text: str) -> dict[str, str]:
    return {
        match.group(1).lower(): next(g for g in match.groups()[1:] if g is not None)
        for match in _ATTRIBUTE.finditer(text)
    }


def caption_to_figure(attributes: dict[str, str], inner: str) -> str:
    """[caption]<img> text[/caption] -> <figure><img><figcaption>text</figcaption></figure>."""
    match = _LEADING_IMAGE.match(inner)
    if match is None:
        return inner
    image, text = match.group(1), match.group(2).strip()
    text = text or html.escape(attributes.get("caption", ""))
    caption = f"<figcaption>{text}</figcaption>" if text else ""
    return f"<figure>{image}{caption}</figure>"


def _media(name: str, attributes: dict[str, str], inner: str) -> str:
    for key in MEDIA_SOURCE_ATTRIBUTES:
        if url := attributes.get(key):
            return f'<{name} controls src="{html.escape(url)}"></{name}>'
    return inner


def _embed(inner: str) -> str:
    url = html_to_text(inner)
    if re.fullmatch(r"https?://\S+", url):
        escaped = html.escape(url)
        return f'<p><a href="{escaped}">{escaped}</a></p>'
    return inner


def _replace_paired(match: re.Match[str]) -> str:
    name, raw_attributes, inner = match.group(1), match.group(2), match.group(3)
    lowered = name.lower()
    attributes = shortcode_attributes(raw_attributes)
    if lowered in ("caption", "wp_caption"):
        return caption_to_figure(attributes, inner)
    if lowered in ("audio", "video"):
        return _media(lowered, attributes, inner)
    if lowered == "embed":
        return _embed(inner)
    return inner


Gallery = Callable[[dict[str, str]], str]


def figure_html(
    url: str, alt: str, caption: str = "", width: int | None = None, height: int | None = None
) -> str:
    """The editor's image block: a figure with its image and, when there is one, its caption
    (`caption` is HTML from the export; cleaning follows)."""
    size = f' width="{width}" height="{height}"' if width and height else ""
    text = f"<figcaption>{caption}</figcaption>" if caption.strip() else ""
    return f'<figure><img src="{html.escape(url)}" alt="{html.escape(alt)}"{size}>{text}</figure>'


def gallery_html(images: list[tuple[str, str]]) -> str:
    """A gallery's images (URL, alt text), each a figure, linked where they were."""
    return "".join(figure_html(url, alt) for url, alt in images)


def _replace_unpaired(match: re.Match[str], gallery: Gallery | None) -> str:
    name = match.group(1).lower()
    if name not in SELF_CLOSING_SHORTCODES:
        return match.group(0)
    if name in ("audio", "video"):
        return _media(name, shortcode_attributes(match.group(2)), "")
    if name == "gallery" and gallery is not None:
        return gallery(shortcode_attributes(match.group(2)))
    return ""


def convert_shortcodes(content: str, gallery: Gallery | None = None) -> str:
    """Captions become figures, media shortcodes become <audio>/<video>, [gallery] becomes what
    `gallery` makes of its attributes, other shortcodes go away but keep the text they wrapped.
    [[foo]] is WordPress's way of writing [foo] literally."""
    if "[" not in content:
        return content
    escaped: list[str] = []

    def hide(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\x00{len(escaped) - 1}\x00"

    content = _ESCAPED.sub(hide, content)
    for _ in range(10):  # nested shortcodes unwrap from the outside in
        converted = _PAIRED.sub(_replace_paired, content)
        if converted == content:
            break
        content = converted
    content = _UNPAIRED.sub(lambda match: _replace_unpaired(match, gallery), content)
    return re.sub(r"\x00(\d+)\x00", lambda m: escaped[int(m.group(1))], content)


# WordPress's autoembed: a URL alone on its line becomes the embedded tweet, video or post.
_OWN_LINE_URL = re.compile(r"(?m)^([ \t]*)(https?://[^\s<>\"']+)([ \t]*)$")
_EMPTY_PARAGRAPH = re.compile(r"<p>(?:\s|&nbsp;|<br>)*</p>\n?")


def link_own_line_urls(content: str) -> str:
    """Without the embed provider, a URL on its own line becomes a plain link to it."""

    def link(match: re.Match[str]) -> str:
        url = html.escape(html.unescape(match.group(2)))
        return f'{match.group(1)}<a href="{url}">{url}</a>{match.group(3)}'

    return _OWN_LINE_URL.sub(link, content)


def drop_empty_paragraphs(body_html: str) -> str:
    """Paragraphs left empty where a shortcode or a gallery used to be."""
    return _EMPTY_PARAGRAPH.sub("", body_html).strip()


_COMMENT = re.compile(r"<!--.*?-->", re.S)


def wordpress_body_html(content: str, gallery: Gallery | None = None) -> str:
    """The post's HTML as WordPress displayed it (before clean_body_html).

    Comments (<!--more-->, <!--nextpage-->, the block editor's delimiters) go first: cleaning
    would drop them anyway, and gone before wpautop they leave no empty paragraph behind."""
    if is_block_content(content):
        converted = convert_shortcodes(strip_block_comments(content), gallery)
        return link_own_line_urls(_COMMENT.sub("", converted)).strip()
    # Captions become <figure> first: figure is a block tag, so wpautop leaves it unwrapped.
    if "<!--" in content:
        content = _COMMENT.sub("", content)
    return wpautop(link_own_line_urls(convert_shortcodes(content, gallery)))


# Titles ---------------------------------------------------------------------------------------

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
UNTITLED_WORDS = 8


def plain_title(title: str) -> str:
    """Markup dropped ('Title <em>With</em> Markup' -> 'Title With Markup'), entities decoded,
    and a lone '<' or '>' kept as the character it is."""
    return " ".join(strip_control_characters(html.unescape(_TAG.sub("", title))).split())


def fallback_title(body_html: str, date_label: str) -> str:
    """A title for a post that had none: its first words, or 'Untitled post <date>'."""
    text = html_to_text(body_html)
    if text:
        return truncate_words(text, UNTITLED_WORDS)
    return f"Untitled post {date_label}".strip()
