"""Two revisions compared as an editor reads them: the words that changed, not the markup.

The body is turned into its paragraphs of plain text (images shown by their alt text), the
paragraphs are matched first, and only paragraphs that changed are compared word by word, so
a long article is compared quickly and a moved paragraph does not turn the whole text red.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from pressroom.media.models import MediaItem
from pressroom.publishing.html import BLOCK_TAGS, html_to_text
from pressroom.publishing.models import Article, Author, Page, Topic
from pressroom.publishing.revisions import Snapshot

PARAGRAPH = "\n"  # the token between two paragraphs
IMAGE = re.compile(r"<img\b[^>]*?\balt=\"([^\"]*)\"[^>]*>|<img\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class FieldComparison:
    label: str
    html: SafeString  # the new value with <del> and <ins> marking what changed
    changed: bool


def body_paragraphs(body_html: str) -> list[str]:
    """The body's paragraphs as plain text; an image is "[image: its alt text]"."""
    with_images = IMAGE.sub(
        lambda match: f" [image: {match.group(1)}] " if match.group(1) else " [image] ",
        body_html,
    )
    blocks = re.split(rf"</?(?:{BLOCK_TAGS}|hr)\b[^>]*>", with_images, flags=re.IGNORECASE)
    return [text for text in map(html_to_text, blocks) if text]


def _tokens(paragraphs: Sequence[str]) -> list[str]:
    tokens: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if index:
            tokens.append(PARAGRAPH)
        tokens += paragraph.split()
    return tokens


class _Writer:
    """Paragraphs of escaped words, with runs wrapped in <del> or <ins>."""

    def __init__(self) -> None:
        self.paragraphs: list[list[str]] = [[]]

    def words(self, tokens: Sequence[str], tag: str = "") -> None:
        run: list[str] = []

        def flush() -> None:
            if run:
                text = escape(" ".join(run))
                self.paragraphs[-1].append(f"<{tag}>{text}</{tag}>" if tag else text)
                run.clear()

        for token in tokens:
            if token != PARAGRAPH:
                run.append(token)
            elif tag == "del":
                run.append("¶")  # a paragraph break taken out
            else:
                flush()
                self.paragraphs.append([])
        flush()

    def html(self) -> SafeString:
        # Every word went through escape().
        return mark_safe("".join(f"<p>{' '.join(parts)}</p>" for parts in self.paragraphs if parts))


def word_diff(old_paragraphs: Sequence[str], new_paragraphs: Sequence[str]) -> SafeString:
    """`new_paragraphs` as HTML, with removed words in <del> and added words in <ins>."""
    writer = _Writer()
    matcher = difflib.SequenceMatcher(None, old_paragraphs, new_paragraphs, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            writer.words(_tokens(new_paragraphs[j1:j2]))
        else:
            if i2 > i1 and j2 > j1:
                # Paragraphs that changed: word by word, within them only.
                old_words, new_words = (
                    _tokens(old_paragraphs[i1:i2]),
                    _tokens(new_paragraphs[j1:j2]),
                )
                words = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
                for word_tag, a1, a2, b1, b2 in words.get_opcodes():
                    if word_tag == "equal":
                        writer.words(new_words[b1:b2])
                    else:
                        writer.words(old_words[a1:a2], "del")
                        writer.words(new_words[b1:b2], "ins")
            else:
                writer.words(_tokens(old_paragraphs[i1:i2]), "del")
                writer.words(_tokens(new_paragraphs[j1:j2]), "ins")
        if j2 < len(new_paragraphs) and (j2 > j1 or i2 > i1):
            writer.words([PARAGRAPH])  # a removed paragraph stands apart from the next one
    return writer.html()


def _names(model: type[Author] | type[Topic], ids: Sequence[int]) -> list[str]:
    names = dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
    kind = model._meta.verbose_name
    return [names.get(pk, f"(deleted {kind} {pk})") for pk in ids]


def _image_name(pk: int | None) -> str:
    if pk is None:
        return ""
    item = MediaItem.objects.filter(pk=pk).first()
    return str(item) if item else f"(deleted image {pk})"


def _time(value: str | None) -> str:
    at = parse_datetime(value) if value else None
    return date_format(at, "DATETIME_FORMAT") if at else ""


def _status(value: str | None) -> str:
    return str(Article.Status(value).label) if value in Article.Status.values else value or ""


def _inline(old: str, new: str) -> SafeString:
    """A one-line value compared word by word."""
    return word_diff([old] if old else [], [new] if new else [])


# (label, snapshot key, how a value is shown as text)
FIELDS: tuple[tuple[str, str, Callable], ...] = (
    ("Title", "title", str),
    ("Summary", "editor_excerpt", str),
    ("Authors (in byline order)", "authors", lambda ids: ", ".join(_names(Author, ids))),
    ("Topics", "topics", lambda ids: ", ".join(sorted(_names(Topic, ids)))),
    ("Status", "status", _status),
    ("Publication time", "published_at", _time),
    ("Slug", "slug", str),
    ("Lead image", "lead_image", _image_name),
    ("Lead image URL", "lead_image_url", str),
    ("Lead image alt text", "lead_image_alt", str),
    ("Original outlet", "original_outlet", str),
    ("Original URL", "original_url", str),
    ("Canonical URL", "canonical_url", str),
)
PAGE_FIELDS: tuple[tuple[str, str, Callable], ...] = (
    ("Title", "title", str),
    ("Summary", "summary", str),
    ("Status", "status", _status),
    ("Publication time", "published_at", _time),
    ("Slug", "slug", str),
    ("Parent page", "parent", lambda pk: _page_path(pk)),
    ("Listed in the sitemap", "show_in_sitemap", lambda value: "yes" if value else "no"),
)


def _page_path(pk: int | None) -> str:
    if pk is None:
        return ""
    path = Page.objects.filter(pk=pk).values_list("path", flat=True).first()
    return f"/{path}/" if path else f"(deleted page {pk})"


def compare(
    old: Snapshot, new: Snapshot, model: type[Article] | type[Page] = Article
) -> list[FieldComparison]:
    """Every field of two snapshots of an article (or page), the body among them, compared
    for an editor."""
    comparisons = []
    for label, key, show in PAGE_FIELDS if model is Page else FIELDS:
        old_value, new_value = old.get(key), new.get(key)
        if key == "title":
            comparisons.append(
                FieldComparison(
                    label, _inline(old_value or "", new_value or ""), old_value != new_value
                )
            )
            comparisons.append(_body(old, new))
            continue
        changed = old_value != new_value
        old_text = show(old_value) if old_value not in (None, "") else ""
        new_text = show(new_value) if new_value not in (None, "") else ""
        comparisons.append(FieldComparison(label, _inline(old_text, new_text), changed))
    return comparisons


def _body(old: Snapshot, new: Snapshot) -> FieldComparison:
    old_body, new_body = old.get("body", ""), new.get("body", "")
    return FieldComparison(
        "Body",
        word_diff(body_paragraphs(old_body), body_paragraphs(new_body)),
        old_body != new_body,
    )
