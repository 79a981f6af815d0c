"""How revisions are stored and read back: snapshots, keyframes and compact deltas.

A snapshot is what an editor can change on an article: its fields (SNAPSHOT_FIELDS), the
bylines in order and the topics, as plain JSON values. A revision row stores either the whole
snapshot (a keyframe) or what changed since the revision before it: fields set to a new value,
and long text fields as a list of chunks copied from the previous text (`[start, end]`) or
inserted (a string). Chunks end at a block's closing tag or at a sentence, so a one-word fix
stores one sentence. Both are zlib-compressed JSON.

A new keyframe is written when the deltas since the last one have grown as large as it is, or
the chain is KEYFRAME_CHAIN long: storage stays within about twice the size of the deltas, and
rebuilding any revision reads at most KEYFRAME_CHAIN rows. Bulk writes (imports) store
keyframes only, reading nothing back, and only for articles that already have revisions; the
others get theirs before their first edit (`record_baseline`).

Pages keep their own fields only (`page_snapshot`); the rest is generic.
"""

from __future__ import annotations

import difflib
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import DateTimeField, Model
from django.utils.dateparse import parse_datetime

from pressroom.publishing.models import Article, ArticleAuthor, ArticleTopic, Page, Revision

FORMAT = 1
KEYFRAME_CHAIN = 50
COMPRESSION_LEVEL = 6
# The article's own fields a revision keeps (the excerpt is made from them again on save).
SNAPSHOT_FIELDS = Article.EDITOR_FIELDS
# Stored as chunk deltas rather than whole values when they change.
TEXT_FIELDS = ("body",)
# Where text is cut into chunks: after a block's closing tag, a line break, or a sentence.
CHUNK_END = re.compile(
    r"(</(?:p|li|h[1-6]|blockquote|figure|figcaption|pre|tr|table|ul|ol|dl|dd|dt|div)>"
    r"|<br\s*/?>|<hr\s*/?>|\n|[.!?;:](?=\s))",
    re.IGNORECASE,
)

type Snapshot = dict[str, Any]


def fields_snapshot(obj: Model, names: Sequence[str]) -> Snapshot:
    """`obj`'s own fields as JSON values: a foreign key as its id, a time in ISO format."""
    snapshot: Snapshot = {}
    for name in names:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)  # type: ignore[union-attr]
        snapshot[name] = value.isoformat() if isinstance(value, datetime) else value
    return snapshot


def apply_fields(obj: Model, snapshot: Snapshot, names: Sequence[str]) -> None:
    """Put a snapshot's fields on `obj` in memory (fields_snapshot the other way)."""
    for name in names:
        if name not in snapshot:
            continue  # a field added after the revision was written: keep the current value
        field = obj._meta.get_field(name)
        value = snapshot[name]
        if isinstance(field, DateTimeField):
            value = parse_datetime(value) if value else None
        setattr(obj, field.attname, value)  # type: ignore[union-attr]


def article_snapshot(
    article: Article, author_ids: Sequence[int], topic_ids: Iterable[int]
) -> Snapshot:
    """The article as a revision keeps it (after the write rules have cleaned it)."""
    snapshot = fields_snapshot(article, SNAPSHOT_FIELDS)
    snapshot["authors"] = list(dict.fromkeys(author_ids))
    snapshot["topics"] = sorted(set(topic_ids))
    return snapshot


def page_snapshot(page: Page) -> Snapshot:
    """The page as a revision keeps it (after the write rules have cleaned it)."""
    return fields_snapshot(page, Page.EDITOR_FIELDS)


def current_links(article_ids: Sequence[int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Bylines (in order) and topics of these articles as they are in the database."""
    authors: dict[int, list[int]] = {pk: [] for pk in article_ids}
    topics: dict[int, list[int]] = {pk: [] for pk in article_ids}
    for article_id, author_id in (
        ArticleAuthor.objects.filter(article_id__in=article_ids)
        .order_by("article_id", "position", "id")
        .values_list("article_id", "author_id")
    ):
        authors[article_id].append(author_id)
    for article_id, topic_id in ArticleTopic.objects.filter(article_id__in=article_ids).values_list(
        "article_id", "topic_id"
    ):
        topics[article_id].append(topic_id)
    return authors, topics


def apply_snapshot(article: Article, snapshot: Snapshot) -> tuple[list[int], list[int]]:
    """Put a snapshot's fields on `article` in memory; return its (author ids, topic ids)."""
    apply_fields(article, snapshot, SNAPSHOT_FIELDS)
    return list(snapshot.get("authors", [])), list(snapshot.get("topics", []))


def published_at_of(snapshot: Snapshot) -> datetime | None:
    value = snapshot.get("published_at")
    return parse_datetime(value) if value else None


# Storage.


def chunks(text: str) -> list[str]:
    """`text` cut into chunks that join back into it exactly."""
    parts = CHUNK_END.split(text)
    # split() with a group alternates text and separator: glue each separator to its text.
    joined = [
        parts[i] + (parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)
    ]
    return [part for part in joined if part]


def text_delta(old: str, new: str) -> list[list[int] | str]:
    old_chunks, new_chunks = chunks(old), chunks(new)
    matcher = difflib.SequenceMatcher(None, old_chunks, new_chunks, autojunk=False)
    operations: list[list[int] | str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            operations.append([i1, i2])
        elif tag in ("replace", "insert"):
            operations.append("".join(new_chunks[j1:j2]))
    return operations


def apply_text_delta(old: str, operations: list) -> str:
    old_chunks = chunks(old)
    return "".join(
        "".join(old_chunks[part[0] : part[1]]) if isinstance(part, list) else part
        for part in operations
    )


def _pack(value: dict) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return zlib.compress(text.encode(), COMPRESSION_LEVEL)


def _unpack(data: bytes | memoryview) -> dict:
    return json.loads(zlib.decompress(bytes(data)))


def encode_keyframe(snapshot: Snapshot) -> bytes:
    return _pack({"v": FORMAT, "full": snapshot})


def encode_delta(previous: Snapshot, snapshot: Snapshot) -> bytes:
    changes: dict[str, Any] = {}
    texts: dict[str, list] = {}
    for name, value in snapshot.items():
        if previous.get(name) == value and name in previous:
            continue
        if name in TEXT_FIELDS and isinstance(previous.get(name), str):
            texts[name] = text_delta(previous[name], value)
        else:
            changes[name] = value
    removed = [name for name in previous if name not in snapshot]
    return _pack({"v": FORMAT, "set": changes, "text": texts, "removed": removed})


def decode(data: bytes | memoryview, previous: Snapshot | None) -> Snapshot:
    """The snapshot a row stores: whole, or built on `previous` (the one before it)."""
    stored = _unpack(data)
    if "full" in stored:
        return dict(stored["full"])
    if previous is None:
        raise ValueError("A delta revision needs the revision before it.")
    snapshot = dict(previous)
    for name in stored.get("removed", []):
        snapshot.pop(name, None)
    snapshot.update(stored.get("set", {}))
    for name, operations in stored.get("text", {}).items():
        snapshot[name] = apply_text_delta(previous.get(name, ""), operations)
    return snapshot


def changed_fields(previous: Snapshot | None, snapshot: Snapshot) -> str:
    """For lists of revisions: "body, topics", or "created"."""
    if previous is None:
        return "created"
    names = [name for name in snapshot if previous.get(name) != snapshot.get(name)]
    return ", ".join(names)[:300]


def snapshot_of(revision: Revision) -> Snapshot:
    """Rebuild one revision: its keyframe and the deltas up to it (at most KEYFRAME_CHAIN rows)."""
    rows = Revision.objects.filter(
        content_type_id=revision.content_type_id,
        object_id=revision.object_id,
        number__gte=revision.base_number,
        number__lte=revision.number,
    ).order_by("number")
    snapshot: Snapshot | None = None
    for row in rows.values_list("data", flat=True).iterator():
        snapshot = decode(row, snapshot)
    if snapshot is None:
        raise Revision.DoesNotExist(f"Revision {revision.number} has no stored data.")
    return snapshot


def pending_change(obj: Model) -> Revision | None:
    """The change waiting to be published on an article, if any."""
    return Revision.objects.of(obj).pending().order_by("-number").first()


@dataclass
class Tip:
    """The newest revision of an object, what it holds, and how long its delta chain is."""

    number: int
    base_number: int
    snapshot: Snapshot
    keyframe_bytes: int
    delta_bytes: int


def tip_of(content_type: ContentType, object_id: int) -> Tip | None:
    """The newest revision, rebuilt (for the next delta), or None for an object without any."""
    newest = (
        Revision.objects.filter(content_type=content_type, object_id=object_id)
        .order_by("-number")
        .values_list("number", "base_number")
        .first()
    )
    if newest is None:
        return None
    number, base = newest
    snapshot: Snapshot | None = None
    keyframe_bytes = delta_bytes = 0
    for row_number, data in (
        Revision.objects.filter(
            content_type=content_type, object_id=object_id, number__gte=base, number__lte=number
        )
        .order_by("number")
        .values_list("number", "data")
    ):
        snapshot = decode(data, snapshot)
        if row_number == base:
            keyframe_bytes = len(data)
        else:
            delta_bytes += len(data)
    assert snapshot is not None
    return Tip(number, base, snapshot, keyframe_bytes, delta_bytes)


def next_revision(
    obj: Model,
    snapshot: Snapshot,
    *,
    state: str = Revision.State.SAVED,
    note: str = "",
    by: Any = None,
) -> Revision:
    """The next revision of `obj` (unsaved), a delta on the newest one when that stays small.

    Callers hold the object's row lock (they have just written it, or locked it), so two
    editors saving at once get consecutive numbers rather than a clash."""
    content_type = ContentType.objects.get_for_model(type(obj))
    tip = tip_of(content_type, obj.pk)
    number = tip.number + 1 if tip else 1
    base = number
    data = encode_keyframe(snapshot)
    if tip is not None and number - tip.base_number < KEYFRAME_CHAIN:
        delta = encode_delta(tip.snapshot, snapshot)
        if tip.delta_bytes + len(delta) < max(tip.keyframe_bytes, len(data)):
            data, base = delta, tip.base_number
    return Revision(
        content_type=content_type,
        object_id=obj.pk,
        number=number,
        base_number=base,
        data=data,
        state=state,
        changed=changed_fields(tip.snapshot if tip else None, snapshot),
        note=note[:200],
        created_by=by if getattr(by, "pk", None) else None,
    )


def record_baseline(article_id: int) -> None:
    """An article without revisions (imported in bulk, or written before revisions were kept)
    gets its stored state as revision 1 before its first change, so that state can be compared
    with and restored."""
    content_type = ContentType.objects.get_for_model(Article)
    # The row lock first: two editors' first saves at once must not both write revision 1.
    stored = Article.objects.select_for_update().get(pk=article_id)
    if Revision.objects.filter(content_type=content_type, object_id=article_id).exists():
        return
    authors, topics = current_links([article_id])
    snapshot = article_snapshot(stored, authors[article_id], topics[article_id])
    Revision.objects.create(
        content_type=content_type,
        object_id=article_id,
        number=1,
        base_number=1,
        data=encode_keyframe(snapshot),
        changed="created",
        note="As it was before its first edit here (imported, or older than revisions)",
        created_at=stored.updated_at,
    )
