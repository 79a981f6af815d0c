"""The straight port of WordPress's wpautop() that importers/wpcontent.py started from: every
replacement on every post. wpcontent.wpautop skips the ones a post cannot need; the test in
test_wpautop_equivalence.py holds the two equal on generated and real content."""

from __future__ import annotations

import re

from pressroom.importers.wpcontent import (
    _BLOCK_CLOSE,
    _BLOCK_OPEN,
    _PRESERVE,
    ALL_BLOCKS,
    NEWLINE_MARK,
    _newlines_to_breaks,
    _replace_newlines_in_tags,
)


def reference_wpautop(text: str, br: bool = True) -> str:
    """A port of WordPress's wpautop(): double newlines make paragraphs, single ones <br />,
    never inside block elements or <pre>."""
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

    text = re.sub(r"<br\s*/?>\s*<br\s*/?>", "\n\n", text)
    text = _BLOCK_OPEN.sub(r"\n\n\1", text)
    text = _BLOCK_CLOSE.sub(r"\1\n\n", text)
    text = re.sub(r"(<hr\s*?/?>)", "\\1\n\n", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _replace_newlines_in_tags(text)

    if "<option" in text:
        text = re.sub(r"\s*<option", "<option", text)
        text = re.sub(r"</option>\s*", "</option>", text)
    if "</object>" in text:
        text = re.sub(r"(<object[^>]*>)\s*", r"\1", text)
        text = re.sub(r"\s*</object>", "</object>", text)
        text = re.sub(r"\s*(</?(?:param|embed)[^>]*>)\s*", r"\1", text)
    if "<source" in text or "<track" in text:
        text = re.sub(r"([<\[](?:audio|video)[^>\]]*[>\]])\s*", r"\1", text)
        text = re.sub(r"\s*([<\[]/(?:audio|video)[>\]])", r"\1", text)
        text = re.sub(r"\s*(<(?:source|track)[^>]*>)\s*", r"\1", text)
    if "<figcaption" in text:
        # re.sub(r"\s*(<figcaption[^>]*>)", r"\1", text), without a scan at every space.
        *before, after = text.split("<figcaption")
        text = "<figcaption".join([piece.rstrip() for piece in before] + [after])
        text = re.sub(r"</figcaption>\s*", "</figcaption>", text)

    text = re.sub(r"\n\n+", "\n\n", text)
    paragraphs = [part for part in re.split(r"\n\s*\n", text) if part]
    text = "".join("<p>" + part.strip("\n") + "</p>\n" for part in paragraphs)

    text = re.sub(r"<p>\s*</p>", "", text)
    text = re.sub(r"<p>([^<]++)</(div|address|form)>", r"<p>\1</p></\2>", text)
    text = re.sub(r"<p>\s*(</?" + ALL_BLOCKS + r"[^>]*>)\s*</p>", r"\1", text)
    text = re.sub(r"<p>(<li.+?)</p>", r"\1", text)
    text = re.sub(r"<p><blockquote([^>]*)>", r"<blockquote\1><p>", text, flags=re.I)
    text = text.replace("</blockquote></p>", "</p></blockquote>")
    text = re.sub(r"<p>\s*(</?" + ALL_BLOCKS + r"[^>]*>)", r"\1", text)
    text = re.sub(r"(</?" + ALL_BLOCKS + r"[^>]*>)\s*</p>", r"\1", text)

    if br:
        text = _PRESERVE.sub(lambda m: m.group(0).replace("\n", "<WPPreserveNewline />"), text)
        text = text.replace("<br>", "<br />").replace("<br/>", "<br />")
        text = _newlines_to_breaks(text)
        text = text.replace("<WPPreserveNewline />", "\n")

    text = re.sub(r"(</?" + ALL_BLOCKS + r"[^>]*>)\s*<br />", r"\1", text)
    text = re.sub(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^>]*>)", r"\1", text)
    text = re.sub(r"\n</p>$", "</p>", text)
    for name, original in pre_tags.items():
        text = text.replace(name, original)
    if "<!-- wpnl -->" in text:
        text = text.replace(NEWLINE_MARK, "\n").replace("<!-- wpnl -->", "\n")
    return text
