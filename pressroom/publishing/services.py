"""Writes to the publishing model.

Every article is written here: one at a time by `save_article` (the admin), many at a time by
`save_articles` (imports, generated corpora). Both apply the same rules, written once below:
`prepare_article` (cleaning, title, excerpt, status), `SlugReservations` (slugs), the listing
order the topic and author links copy (`Article.listing_state`), the old addresses
(`write_legacy_paths`), revisions (`_record_revisions`), and the two announcements:
`articles_written` inside the transaction (search indexes with the rows) and `content_changed` after it commits (caches).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import slug_unicode_re
from django.db import IntegrityError, transaction
from django.db.models import Field, Max, Model
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.text import slugify

from pressroom.lib.bulk import insert_rows
from pressroom.media import services as media_services
from pressroom.media.models import MediaItem
from pressroom.publishing import revisions
from pressroom.publishing.html import clean_body_html, make_excerpt, strip_control_characters
from pressroom.publishing.links import slug_url_builder
from pressroom.publishing.models import (
    LEGACY_TARGETS,
    Article,
    ArticleAuthor,
    ArticleStateError,
    ArticleTopic,
    Author,
    Correction,
    LegacyPath,
    Page,
    ReviewComment,
    Revision,
    Topic,
)
from pressroom.publishing.signals import articles_written, content_changed
from pressroom.publishing.tasks import send_review_email

ARTICLE_SLUG_LENGTH = Article._meta.get_field("slug").max_length or 255
# Everything an article write sets, in the order save_articles inserts and updates it.
ARTICLE_FIELDS = (
    *("title", "slug", "body", "editor_excerpt", "excerpt", "status", "published_at"),
    *("created_at", "updated_at", "lead_image", "lead_image_url", "lead_image_alt"),
    *("original_outlet", "original_url", "canonical_url", "licence"),
)
# The attributes holding them (the lead image's id, not the image: no query per article).
ARTICLE_ATTRIBUTES = tuple(
    field.attname
    for field in map(Article._meta.get_field, ARTICLE_FIELDS)
    if isinstance(field, Field)
)
# Retries when another writer takes a slug between our look-up and our insert.
SLUG_ATTEMPTS = 5


class SlugReservations:
    """Unique slugs for a batch of rows of one model: one query for the whole batch, and one
    more only for a slug that is already taken. `unique_slug` is the batch of one.

    The wanted slug is kept as typed when it is a valid one ('Peru-2026' stays), else slugified
    ('Strike in Lima!' becomes 'strike-in-lima'); when that is taken the next free number is
    added ('peru-2'). Callers slugify a title or a name themselves (`wanted_slug`). A row keeps the slug it has when it still fits the text ('peru-2'
    stays 'peru-2' when the text is 'Peru').
    """

    def __init__(self, model: type[Model], texts: Iterable[str], *, max_length: int) -> None:
        self.model = model
        self.max_length = max_length
        bases = {self.base(text) for text in texts}
        self.owners = dict(model._default_manager.filter(slug__in=bases).values_list("slug", "pk"))
        self.reserved: set[str] = set()
        # Numbered slugs already in the table, by stem: looked up once per stem and batch, so a
        # batch with many rows of one title (a generated corpus) costs one query, not one each.
        self.numbered: dict[str, set[str]] = {}
        self.last_number: dict[str, int] = {}

    def base(self, text: str) -> str:
        if len(text) <= self.max_length and slug_unicode_re.fullmatch(text):
            return text
        return slugify(text, allow_unicode=True)[: self.max_length - 8].strip("-") or "untitled"

    def take(self, text: str, row: Model, current: str = "") -> str:
        """A free slug for `row` made from `text`; `current` is the slug the row has now."""
        base = self.base(text)
        if (
            current
            and current not in self.reserved
            and (
                current == base
                or re.fullmatch(rf"{re.escape(base[: self.max_length - 8])}-\d+", current)
            )
        ):
            slug = current
        elif base not in self.reserved and self.owners.get(base, row.pk) == row.pk:
            slug = base
        else:
            stem = base[: self.max_length - 8].strip("-") or "untitled"
            taken = self.numbered.get(stem)
            if taken is None:
                # The row's own slug counts as taken: were it this stem's, the row kept it above.
                taken = self.numbered[stem] = set(
                    self.model._default_manager.filter(slug__startswith=stem).values_list(
                        "slug", flat=True
                    )
                )
            # Numbers below the last one given here are all taken: start from it.
            number = self.last_number.get(stem, 2)
            while f"{stem}-{number}" in taken or f"{stem}-{number}" in self.reserved:
                number += 1
            slug = f"{stem}-{number}"
            taken.add(slug)
            self.last_number[stem] = number
        self.reserved.add(slug)
        return slug


def wanted_slug(slug: str, name: str) -> str:
    """The slug a row asks for: the one typed, else one made from its title or name."""
    return slug or slugify(name, allow_unicode=True)


def unique_slug(
    model: type[Model], text: str, *, exclude_pk: int | None = None, max_length: int = 200
) -> str:
    """A slug made from `text` that no other row of `model` has: 'peru', 'peru-2', ..."""
    wanted = wanted_slug("", text)
    return SlugReservations(model, [wanted], max_length=max_length).take(
        wanted, model(pk=exclude_pk)
    )


def announce_change(article_ids: Iterable[int] = ()) -> None:
    """Tell caches and federation, once the transaction has committed."""
    ids = list(article_ids)
    transaction.on_commit(lambda: content_changed.send(sender=Article, article_ids=ids))


def _announce_written(article_ids: list[int], articles: Sequence[Article] | None = None) -> None:
    """Tell what keeps a copy of articles (search) now, inside the writing transaction, so its
    copy commits or rolls back with the rows; then tell caches after the commit. `articles`
    are the instances just written, so the copy need not read them back."""
    articles_written.send(sender=Article, article_ids=article_ids, articles=articles)
    announce_change(article_ids)


@dataclass(frozen=True)
class PreparedText:
    """An article's body cleaned and its excerpt made, as `prepare_article` would, by
    `prepare_text`, signed with the site's key: a write given it (ArticleWrite.prepared) takes
    them as they are. The work can then be done where the text is made (an import's reader
    process, on the other core) while the rules stay these; a body or excerpt changed since,
    or not made by `prepare_text`, fails the signature and is prepared again."""

    body: str  # cleaned
    editor_excerpt: str
    excerpt: str
    signature: str

    def holds_for(self, article: Article) -> bool:
        return (
            article.body == self.body
            and article.editor_excerpt == self.editor_excerpt
            and constant_time_compare(
                self.signature, _text_signature(self.body, self.editor_excerpt, self.excerpt)
            )
        )


def _text_signature(body: str, editor_excerpt: str, excerpt: str) -> str:
    # Lengths first: no two different triples read as the same text.
    value = f"{len(body)}:{len(editor_excerpt)}:{body}{editor_excerpt}{excerpt}"
    return salted_hmac("pressroom.publishing.PreparedText", value, algorithm="sha256").hexdigest()


def prepare_text(body: str, editor_excerpt: str = "") -> PreparedText:
    """The costly part of `prepare_article` (cleaning the body, making the excerpt), done
    ahead of the write: see PreparedText."""
    body = clean_body_html(body)
    editor_excerpt = strip_control_characters(editor_excerpt)
    excerpt = make_excerpt(body, editor_excerpt)
    return PreparedText(
        body, editor_excerpt, excerpt, _text_signature(body, editor_excerpt, excerpt)
    )


def prepare_article(
    article: Article, *, now: datetime | None = None, prepared: PreparedText | None = None
) -> None:
    """The rules every article write applies, in memory: a cleaned body, a title on one line,
    the excerpt, a future publication scheduled, the canonical URL of a republished piece.
    A title longer than the column (an import's) is cut to fit rather than refused.
    `prepared`: the body and excerpt as `prepare_text` made them, if they still hold."""
    text = prepared if prepared is not None and prepared.holds_for(article) else None
    if text is None:
        article.body = clean_body_html(article.body or "")
    title = " ".join(strip_control_characters(article.title).split())
    article.title = title[: Article._meta.get_field("title").max_length]
    for field in ("editor_excerpt", "lead_image_alt", "original_outlet", "licence"):
        setattr(article, field, strip_control_characters(getattr(article, field)))
    article.excerpt = (
        text.excerpt if text is not None else make_excerpt(article.body, article.editor_excerpt)
    )
    if (
        article.status == Article.Status.PUBLISHED
        and article.published_at is not None
        and article.published_at > (now or timezone.now())
    ):
        # Published with a future time (an import, a form) is scheduled; say so in lists.
        article.status = Article.Status.SCHEDULED
    if article.original_url and not article.canonical_url:
        article.canonical_url = article.original_url


class MissingAltTextError(ArticleStateError):
    """A public article would show library images that nobody has described."""

    def __init__(self, items: list[MediaItem]) -> None:
        self.items = items
        names = ", ".join(f"“{item}”" for item in items[:10])
        super().__init__(
            f"Add alt text to {names} in the media library (or mark them decorative) "
            "before publishing: readers who cannot see images need it."
        )


def images_of(article: Article) -> tuple[MediaItem | None, list[MediaItem]]:
    """The lead image and the library items the body points at."""
    lead = article.lead_image if article.lead_image_id else None
    return lead, media_services.items_in_html(article.body)


def images_lacking_alt_text(article: Article) -> list[MediaItem]:
    lead, body_items = images_of(article)
    items = {item.pk: item for item in [*([lead] if lead else []), *body_items]}
    return [item for item in items.values() if item.needs_alt_text]


def record_media_uses(article: Article, *, is_new: bool = False) -> None:
    """What the article uses from the library now (a new article without images: nothing to
    write, so bulk imports of text pay no query)."""
    lead, body_items = images_of(article)
    if is_new and lead is None and not body_items:
        return
    media_services.record_uses(article, "lead image", [lead] if lead else [], label=article.title)
    media_services.record_uses(article, "body", body_items, label=article.title)


def record_media_uses_of(articles: Sequence[Article], previous: Mapping[int, str]) -> None:
    """record_media_uses for a batch: articles written before one by one, the new ones (an
    import's) with one look-up of their body images and one insert."""
    new = [article for article in articles if article.pk not in previous]
    for article in articles:
        if article.pk in previous:
            record_media_uses(article)
    body_items = media_services.item_ids_in_html(article.body for article in new)
    uses: list[tuple[Model, str, int, str]] = []
    for article in new:
        if article.lead_image_id:
            uses.append((article, "lead image", article.lead_image_id, article.title))
        keys = dict.fromkeys(media_services.ITEM_FILE_URL.findall(article.body or ""))
        uses += [(article, "body", body_items[k], article.title) for k in keys if k in body_items]
    media_services.record_first_uses(uses)


def sync_listing_links(article: Article) -> None:
    """Copy the article's public order into its topic and author links."""
    is_public, published_at = article.listing_state()
    ArticleTopic.objects.filter(article=article).update(
        is_public=is_public, published_at=published_at
    )
    ArticleAuthor.objects.filter(article=article).update(
        is_public=is_public, published_at=published_at
    )


@transaction.atomic
def save_article(
    article: Article,
    *,
    authors: Sequence[Author] | None = None,
    topics: Iterable[Topic] | None = None,
    legacy_paths: Iterable[str] = (),
    require_alt_text: bool = True,
    by: Any = None,
    note: str = "",
    settles_pending: int | None = None,
) -> Article:
    """Create or update an article: clean, excerpt, slug, links, media uses, a revision (saved
    `by` a user, with a `note` such as "Restored revision 3"), then announce.

    A public article whose library images lack alt text (and are not decorative) is refused
    with MissingAltTextError; importers of old content may pass `require_alt_text=False`.
    `settles_pending`: the number of the pending change the editor's form showed; it is
    published with this save. A new article is recorded as created `by` that user (a
    contributor edits only the drafts they created).
    """
    if article.pk is None and getattr(by, "pk", None):
        article.created_by = by
    save_articles(
        [
            ArticleWrite(
                article,
                author_ids=None if authors is None else [author.pk for author in authors],
                topic_ids=None if topics is None else [topic.pk for topic in topics],
                legacy_paths=list(legacy_paths),
                require_alt_text=require_alt_text,
            )
        ],
        by=by,
        note=note,
    )
    if settles_pending:
        for pending in Revision.objects.of(article).pending().filter(number=settles_pending):
            pending.close_pending(Revision.State.PUBLISHED)
            pending.save(update_fields=["state"])
    return article


@dataclass
class ArticleWrite:
    """One article for `save_articles`: the instance (new, or loaded and changed) and what goes
    with it. `None` for authors or topics leaves the article's bylines or topics as they are."""

    article: Article
    author_ids: Sequence[int] | None = None  # in byline order
    topic_ids: Iterable[int] | None = None
    legacy_paths: Sequence[str] = ()  # old addresses that redirect to the article
    updated_at: datetime | None = None  # default: now
    require_alt_text: bool = True  # refuse a public article with undescribed library images
    prepared: PreparedText | None = None  # the body cleaned ahead (prepare_text)
    # Filled in by save_articles: old addresses that already led elsewhere, left as they were.
    clashing_paths: list[str] = dataclasses.field(default_factory=list)


@transaction.atomic
def save_articles(
    writes: Sequence[ArticleWrite], *, by: Any = None, note: str = ""
) -> list[Article]:
    """Create or update many articles with a few statements: what `save_article` does for one.

    For imports and generated corpora; the caller's own bookkeeping may share the transaction
    (call it inside `transaction.atomic()`), so a batch is written whole or not at all.
    """
    if not writes:
        return []
    now = timezone.now()
    articles = [write.article for write in writes]
    previous_slugs = dict(
        Article.objects.filter(pk__in=[a.pk for a in articles if a.pk]).values_list("pk", "slug")
    )
    for write in writes:
        prepare_article(write.article, now=now, prepared=write.prepared)
        write.article.updated_at = write.updated_at or now
        public = write.article.status in Article.PUBLIC_STATUSES
        if (
            write.require_alt_text
            and public
            and (missing := images_lacking_alt_text(write.article))
        ):
            raise MissingAltTextError(missing)
    if len(articles) == 1 and articles[0].pk in previous_slugs:
        revisions.record_baseline(articles[0].pk)
    for attempt in range(SLUG_ATTEMPTS):
        try:
            with transaction.atomic():
                _insert_or_update(articles, previous_slugs)
            break
        except IntegrityError:
            # Another writer took one of these slugs since we looked: look again.
            taken = Article.objects.filter(slug__in=[a.slug for a in articles])
            if (
                attempt == SLUG_ATTEMPTS - 1
                or not taken.exclude(pk__in=[a.pk for a in articles if a.pk]).exists()
            ):
                raise
            for article in articles:
                if article.pk not in previous_slugs:
                    article.pk = None
    _write_links(writes, existing=previous_slugs.keys())
    _record_revisions(writes, previous_slugs, by=by, note=note)
    record_media_uses_of([write.article for write in writes], previous_slugs)
    article_url = slug_url_builder("publishing:article-detail")
    old_addresses: dict[str, Article | Topic] = {}
    for write in writes:
        article = write.article
        previous = previous_slugs.get(article.pk)
        if previous and previous != article.slug:
            # Links to the old address keep working.
            old_addresses[article_url(previous)] = article
    write_legacy_paths(old_addresses)
    # An old address given with the article never takes over one leading elsewhere (a second
    # imported site with the same permalink): it is reported instead.
    clashes = set(
        write_legacy_paths(
            {path: write.article for write in writes for path in write.legacy_paths},
            keep_existing=True,
        )
    )
    if clashes:
        for write in writes:
            write.clashing_paths = [
                path for path in map(normalize_legacy_path, write.legacy_paths) if path in clashes
            ]
    _announce_written([article.pk for article in articles], articles)
    return articles


def _insert_or_update(articles: list[Article], previous_slugs: Mapping[int, str]) -> None:
    """Settle the slugs, then insert the new articles and update the others."""
    wanted = [wanted_slug(article.slug, article.title) for article in articles]
    slugs = SlugReservations(Article, wanted, max_length=ARTICLE_SLUG_LENGTH)
    for article, text in zip(articles, wanted, strict=True):
        article.slug = slugs.take(text, article, previous_slugs.get(article.pk, ""))
    new = [article for article in articles if article.pk is None]
    updated = [article for article in articles if article.pk is not None]
    if len(articles) == 1:
        # One article (the admin's save): the ORM's own insert or update.
        articles[0].save()
        return
    insert_rows(
        Article,
        ARTICLE_FIELDS,
        ([getattr(article, name) for name in ARTICLE_ATTRIBUTES] for article in new),
    )
    ids = dict(Article.objects.filter(slug__in=[a.slug for a in new]).values_list("slug", "pk"))
    for article in new:
        article.pk = ids[article.slug]
        article._state.adding = False
    Article.objects.bulk_update(updated, ARTICLE_FIELDS)


def _record_revisions(
    writes: Sequence[ArticleWrite], previous_slugs: Mapping[int, str], *, by: Any, note: str
) -> None:
    """A revision of each article as written.

    One article (the admin, a service): a delta on its newest revision. A batch (an import):
    nothing for an article without revisions (a new one, or one never edited here), whose
    stored state becomes its revision 1 before its first single save (`record_baseline`), so
    an import of 20,000 posts writes no revision at all and an archive nobody edits costs no
    copy; an article with revisions gets a whole snapshot, in one statement for the batch."""
    if len(writes) == 1:
        write = writes[0]
        author_ids, topic_ids = write.author_ids, write.topic_ids
        if author_ids is None or topic_ids is None:
            authors, topics = revisions.current_links([write.article.pk])
            author_ids = authors[write.article.pk] if author_ids is None else author_ids
            topic_ids = topics[write.article.pk] if topic_ids is None else topic_ids
        snapshot = revisions.article_snapshot(write.article, author_ids, topic_ids)
        revisions.next_revision(write.article, snapshot, note=note, by=by).save()
        return
    content_type = ContentType.objects.get_for_model(Article)
    newest = dict(
        Revision.objects.filter(
            content_type=content_type,
            object_id__in=[w.article.pk for w in writes if w.article.pk in previous_slugs],
        )
        .values_list("object_id")
        .annotate(Max("number"))
    )
    if not newest:
        return
    kept = [write for write in writes if write.article.pk in newest]
    kept_links = [w.article.pk for w in kept if w.author_ids is None or w.topic_ids is None]
    authors, topics = revisions.current_links(kept_links) if kept_links else ({}, {})
    now = timezone.now()
    by_id = getattr(by, "pk", None)
    rows = []
    for write in kept:
        pk = write.article.pk
        snapshot = revisions.article_snapshot(
            write.article,
            authors.get(pk, []) if write.author_ids is None else write.author_ids,
            topics.get(pk, []) if write.topic_ids is None else write.topic_ids,
        )
        number = newest[pk] + 1
        data = revisions.encode_keyframe(snapshot)
        rows.append((content_type.pk, pk, number, number, data, "saved", "", note, now, by_id))
    insert_rows(
        Revision,
        [
            *("content_type", "object_id", "number", "base_number", "data", "state"),
            *("changed", "note", "created_at", "created_by"),
        ],
        rows,
    )


def _write_links(writes: Sequence[ArticleWrite], *, existing: Collection[int]) -> None:
    """Bylines and topics as given, each link carrying the article's listing order.
    `existing` are the ids of the articles that were in the table before this write: only
    they can have links to replace (an import's new articles cost no delete)."""
    replaced_authors = [
        w.article.pk for w in writes if w.author_ids is not None and w.article.pk in existing
    ]
    replaced_topics = [
        w.article.pk for w in writes if w.topic_ids is not None and w.article.pk in existing
    ]
    if replaced_authors:
        ArticleAuthor.objects.filter(article_id__in=replaced_authors).delete()
    if replaced_topics:
        ArticleTopic.objects.filter(article_id__in=replaced_topics).delete()
    author_rows: list[tuple[int, int, int, bool, datetime | None]] = []
    topic_rows: list[tuple[int, int, bool, datetime | None]] = []
    kept: list[Article] = []
    for write in writes:
        article = write.article
        is_public, published_at = article.listing_state()
        if write.author_ids is not None:
            author_rows += [
                (article.pk, author_id, position, is_public, published_at)
                for position, author_id in enumerate(dict.fromkeys(write.author_ids))
            ]
        if write.topic_ids is not None:
            topic_rows += [
                (article.pk, topic_id, is_public, published_at)
                for topic_id in dict.fromkeys(write.topic_ids)
            ]
        if write.author_ids is None or write.topic_ids is None:
            kept.append(article)
    insert_rows(
        ArticleAuthor, ["article", "author", "position", "is_public", "published_at"], author_rows
    )
    insert_rows(ArticleTopic, ["article", "topic", "is_public", "published_at"], topic_rows)
    for article in kept:
        # Links the write left in place still take the article's (maybe new) listing order.
        sync_listing_links(article)


@transaction.atomic
def publish_article(
    article: Article,
    at: datetime | None = None,
    *,
    by: Any = None,
    comment: str = "",
    from_review: bool = False,
) -> Article:
    """Publish now, or schedule for `at`. Raises ArticleStateError when it cannot be. An
    article in review ends its review so (its writer is told, with the `comment`).

    The article's row is locked and read afresh first, so two editors (or a double click) act
    in turn: the second finds it published (or sent back) and, `from_review`, is refused."""
    if article.pk is not None:
        # Only the state is read afresh: a caller's unsaved edits to the text are kept.
        Article.objects.select_for_update().filter(pk=article.pk).exists()
        article.refresh_from_db(fields=["status", "published_at"])
    if from_review and not article.is_in_review:
        raise ArticleStateError("It is no longer in review (someone acted on it first).")
    was_in_review = article.is_in_review
    if at is None and article.status == Article.Status.PUBLISHED and article.is_public:
        return article  # already published: nothing to do, nothing recorded twice
    article.publish(at=at)
    _discard_pending(article)
    save_article(article, by=by, note="Published" if at is None else "Scheduled")
    if was_in_review:
        end_review_by_publication(article, by=by, comment=comment)
    return article


@transaction.atomic
def unpublish_article(article: Article, *, by: Any = None) -> Article:
    Article.objects.select_for_update().filter(pk=article.pk).exists()
    article.refresh_from_db(fields=["status", "published_at"])
    article.unpublish()
    _discard_pending(article)
    return save_article(article, by=by, note="Unpublished")


def _discard_pending(article: Article) -> None:
    """Close any pending change: a change of state (submitted, sent back, published, taken
    down) leaves none waiting, so what an editor reviews is what gets published."""
    for pending in Revision.objects.of(article).pending().select_for_update():
        pending.close_pending(Revision.State.DISCARDED)
        pending.save(update_fields=["state"])


# Review: a contributor submits a draft; editors comment, send it back or publish it.


def _record_review(article: Article, action: str, *, by: Any, text: str = "") -> ReviewComment:
    """Keep one step of the review on the article and email it, from the worker, once the
    step has committed."""
    comment = ReviewComment.objects.create(
        article=article,
        action=action,
        text=strip_control_characters(text or "").strip()[: ReviewComment.MAX_TEXT],
        created_by=by if getattr(by, "pk", None) else None,
    )
    transaction.on_commit(lambda: send_review_email.enqueue(comment.pk))
    return comment


def _lock_fresh(article: Article) -> None:
    """The article's row locked and its stored state loaded: two people acting on one review at
    once act in turn, each on what the other left."""
    Article.objects.select_for_update().filter(pk=article.pk).exists()
    article.refresh_from_db()


def _required(text: str, message: str) -> str:
    text = strip_control_characters(text or "").strip()
    if not text:
        raise ArticleStateError(message)
    return text


@transaction.atomic
def submit_article_for_review(article: Article, *, by: Any, comment: str = "") -> ReviewComment:
    """Put a draft in the editors' review queue (they are emailed). Raises ArticleStateError
    for anything but a draft."""
    _lock_fresh(article)
    article.submit_for_review()
    _discard_pending(article)
    save_article(article, by=by, note="Submitted for review")
    return _record_review(article, ReviewComment.Action.SUBMITTED, by=by, text=comment)


@transaction.atomic
def send_back_article(article: Article, *, by: Any, comment: str) -> ReviewComment:
    """Return an article in review to its writer as a draft, saying what to change (they are
    emailed). Raises ArticleStateError without a comment or for an article not in review."""
    text = _required(comment, "Say what to change: the writer reads it in the email.")
    _lock_fresh(article)
    article.send_back()
    _discard_pending(article)
    save_article(article, by=by, note="Sent back")
    return _record_review(article, ReviewComment.Action.SENT_BACK, by=by, text=text)


# A writer's comments each email every editor: at most this many an hour on one article.
WRITER_COMMENTS_PER_HOUR = 5


def writer_may_comment(article: Article) -> bool:
    """A writer (no publish permission) comments while their article is in review, or on the
    draft an editor sent back to them; not on a draft never submitted, nor a published one."""
    if article.is_in_review:
        return True
    return (
        article.status == Article.Status.DRAFT
        and not article.was_published
        and article.review_comments.filter(action=ReviewComment.Action.SENT_BACK).exists()
    )


@transaction.atomic
def comment_on_article(
    article: Article, *, by: Any, comment: str, as_writer: bool = False
) -> ReviewComment:
    """A remark in the article's review, told to the other side; the article is unchanged.
    `as_writer` (the contributor): only while it is in review or sent back, and at most
    WRITER_COMMENTS_PER_HOUR an hour, since each one emails every editor."""
    text = _required(comment, "Write a comment first.")
    if as_writer:
        _lock_fresh(article)  # in turn with other comments, so the count below holds
        if not writer_may_comment(article):
            raise ArticleStateError(
                "You can comment while the article is in review, or after it is sent back."
            )
        recent = article.review_comments.filter(
            action=ReviewComment.Action.COMMENT,
            created_by=by.pk,
            created_at__gte=timezone.now() - timedelta(hours=1),
        ).count()
        if recent >= WRITER_COMMENTS_PER_HOUR:
            raise ArticleStateError(
                f"You have commented {recent} times on this article in the last hour (the "
                "editors are emailed each time); wait a while, or put it in one comment."
            )
    return _record_review(article, ReviewComment.Action.COMMENT, by=by, text=text)


@transaction.atomic
def end_review_by_publication(article: Article, *, by: Any, comment: str = "") -> ReviewComment:
    """An article that left review by being published or scheduled: the review records it
    (a scheduled one says for when) and its writer is told."""
    if article.status == Article.Status.SCHEDULED and article.published_at is not None:
        when = timezone.localtime(article.published_at).strftime("%Y-%m-%d %H:%M %Z")
        comment = f"Scheduled for {when}." + (f"\n\n{comment}" if comment.strip() else "")
        return _record_review(article, ReviewComment.Action.SCHEDULED, by=by, text=comment)
    return _record_review(article, ReviewComment.Action.PUBLISHED, by=by, text=comment)


DEFAULT_SEND_BACK_NOTE = "Returned to draft by an editor from the article's form."


@transaction.atomic
def end_review_by_draft(article: Article, *, by: Any) -> ReviewComment:
    """An editor set an article in review back to draft from its form: it is a send-back
    (recorded, with a default note, and its writer is emailed)."""
    _discard_pending(article)
    return _record_review(
        article, ReviewComment.Action.SENT_BACK, by=by, text=DEFAULT_SEND_BACK_NOTE
    )


# Revisions: pending changes, publishing them, restoring an older revision.


@transaction.atomic
def save_pending_change(
    article: Article,
    *,
    authors: Sequence[Author],
    topics: Iterable[Topic],
    by: Any = None,
    note: str = "",
) -> Revision:
    """Keep the changes made to `article` (in memory) as a pending revision; the article as
    readers see it is not written. The change is cleaned as a save would clean it, so its
    preview is exactly what publishing it will show. A newer pending change replaces an older
    one (at most one waits at a time)."""
    return _record_pending(
        article, [author.pk for author in authors], [topic.pk for topic in topics], by, note
    )


def _record_pending(
    article: Article, author_ids: Sequence[int], topic_ids: Iterable[int], by: Any, note: str
) -> Revision:
    if article.pk is None:
        raise ArticleStateError("A new article is saved as a draft, not as a pending change.")
    # The article's row lock: revision numbers are taken in order, as saves take them.
    stored = (
        Article.objects.select_for_update().filter(pk=article.pk).values("status", "slug").first()
    )
    if stored is None or stored["status"] not in Article.PUBLIC_STATUSES:
        # A draft (or one in review) is simply saved: a pending change waits only beside what
        # readers see, else a submission could hide one text behind another.
        raise ArticleStateError(
            "Only a published or scheduled article keeps a pending change; save this one."
        )
    if not (article.slug or "").strip():
        article.slug = stored["slug"]  # as a save keeps an address it cannot make afresh
    prepare_article(article)
    snapshot = revisions.article_snapshot(article, author_ids, topic_ids)
    return _record_pending_snapshot(article, snapshot, by, note)


def _record_pending_snapshot(
    obj: Article | Page, snapshot: revisions.Snapshot, by: Any, note: str
) -> Revision:
    """The pending revision of an article or page (its row locked by the caller); a newer
    pending change replaces an older one."""
    for older in Revision.objects.of(obj).pending():
        older.close_pending(Revision.State.DISCARDED)
        older.save(update_fields=["state"])
    revision = revisions.next_revision(
        obj, snapshot, state=Revision.State.PENDING, note=note or "Pending change", by=by
    )
    revision.save()
    return revision


@transaction.atomic
def publish_pending_change(revision: Revision, *, by: Any = None) -> Article | Page:
    """Put a pending change on its article and save it (a new revision): readers see it now.
    Raises ArticleStateError when it is no longer pending or cannot be published (alt text)."""
    revision = Revision.objects.select_for_update().get(pk=revision.pk)
    revision.close_pending(Revision.State.PUBLISHED)
    revision.save(update_fields=["state"])
    note = f"Published the pending change (revision {revision.number})"
    if revision.content_type.model_class() is Page:
        page = Page.objects.select_for_update().get(pk=revision.object_id)
        _apply_page_snapshot(page, revisions.snapshot_of(revision))
        return save_page(page, by=by, note=note)
    article = Article.objects.select_for_update().get(pk=revision.object_id)
    author_ids, topic_ids = _apply_existing(article, revisions.snapshot_of(revision))
    if article.status in Article.PUBLIC_STATUSES and article.published_at is None:
        article.published_at = timezone.now()
    _save_with_links(article, author_ids, topic_ids, by=by, note=note)
    return article


@transaction.atomic
def discard_pending_change(revision: Revision) -> None:
    revision = Revision.objects.select_for_update().get(pk=revision.pk)
    revision.close_pending(Revision.State.DISCARDED)
    revision.save(update_fields=["state"])


@transaction.atomic
def restore_revision(revision: Revision, *, by: Any = None, as_pending: bool = False) -> Revision:
    """Bring an older revision back, as a new revision (saved, or pending when `as_pending`, to
    preview it before readers see it). The article keeps its publication state: a live article
    stays live, a draft stays a draft. Authors, topics or a lead image deleted since are left
    out. Raises ArticleStateError when the result cannot be published (alt text)."""
    if revision.content_type.model_class() is Page:
        return _restore_page_revision(revision, by=by, as_pending=as_pending)
    article = Article.objects.select_for_update().get(pk=revision.object_id)
    status, published_at = article.status, article.published_at
    author_ids, topic_ids = _apply_existing(article, revisions.snapshot_of(revision))
    article.status, article.published_at = status, published_at
    note = f"Restored revision {revision.number}"
    if as_pending:
        return _record_pending(article, author_ids, topic_ids, by, note)
    _save_with_links(article, author_ids, topic_ids, by=by, note=note)
    return Revision.objects.of(article).order_by("-number").first()  # type: ignore[return-value]


def _restore_page_revision(revision: Revision, *, by: Any, as_pending: bool) -> Revision:
    page = Page.objects.select_for_update().get(pk=revision.object_id)
    status, published_at = page.status, page.published_at
    _apply_page_snapshot(page, revisions.snapshot_of(revision))
    page.status, page.published_at = status, published_at
    note = f"Restored revision {revision.number}"
    if as_pending:
        prepare_page(page)
        return _record_pending_snapshot(page, revisions.page_snapshot(page), by, note)
    save_page(page, by=by, note=note)
    return Revision.objects.of(page).order_by("-number").first()  # type: ignore[return-value]


def _apply_page_snapshot(page: Page, snapshot: revisions.Snapshot) -> None:
    """Put a snapshot on `page`; a parent deleted since (or now under this page) is left out."""
    revisions.apply_fields(page, snapshot, Page.EDITOR_FIELDS)
    if page.parent_id is not None:
        parent = Page.objects.filter(pk=page.parent_id).only("path").first()
        stored = Page.objects.filter(pk=page.pk).values_list("path", flat=True).first()
        if (
            parent is None
            or page.parent_id == page.pk
            or (stored and parent.path.startswith(stored + "/"))
        ):
            page.parent_id = None


def _apply_existing(article: Article, snapshot: revisions.Snapshot) -> tuple[list[int], list[int]]:
    """Put a snapshot on `article`, leaving out what was deleted since; its links' ids."""
    author_ids, topic_ids = revisions.apply_snapshot(article, snapshot)
    if article.lead_image_id and not MediaItem.objects.filter(pk=article.lead_image_id).exists():
        article.lead_image_id = None
    authors = set(Author.objects.filter(pk__in=author_ids).values_list("pk", flat=True))
    topics = set(Topic.objects.filter(pk__in=topic_ids).values_list("pk", flat=True))
    return [pk for pk in author_ids if pk in authors], [pk for pk in topic_ids if pk in topics]


def _save_with_links(
    article: Article, author_ids: Sequence[int], topic_ids: Sequence[int], *, by: Any, note: str
) -> None:
    save_articles(
        [ArticleWrite(article, author_ids=author_ids, topic_ids=topic_ids)], by=by, note=note
    )


@transaction.atomic
def add_correction(
    article: Article,
    text: str,
    *,
    kind: str = Correction.Kind.CORRECTION,
    by: Any = None,
    noted_at: datetime | None = None,
) -> Correction:
    """Tell readers of a published article what was corrected or updated. The article counts
    as modified then (its page says "Updated", its feeds' entries and JSON-LD carry the time).
    Raises ArticleStateError for an article readers cannot see (nothing to correct in public)."""
    if not article.is_public:
        raise ArticleStateError("Only a published article can carry a correction.")
    text = strip_control_characters(text).strip()
    if not text:
        raise ArticleStateError("Write what was corrected.")
    correction = Correction.objects.create(
        article=article,
        kind=kind,
        text=text[: Correction.MAX_TEXT],
        noted_at=noted_at or timezone.now(),
        created_by=by,
    )
    _mark_modified(article)
    return correction


@transaction.atomic
def remove_correction(correction: Correction, *, by: Any, reason: str) -> Correction:
    """Stop showing a correction; who, when and why stay on record for editors. Raises
    ValueError without a reason."""
    correction.remove(by=by, reason=strip_control_characters(reason))
    correction.save(update_fields=["removed_at", "removed_by", "removal_reason"])
    _mark_modified(correction.article)
    return correction


def _mark_modified(article: Article) -> None:
    article.updated_at = timezone.now()
    Article.objects.filter(pk=article.pk).update(updated_at=article.updated_at)
    announce_change([article.pk])


@transaction.atomic
def delete_article(article: Article) -> None:
    article_id = article.pk
    media_services.forget_uses(article)
    article.delete()
    _announce_written([article_id])


# What an old address may lead to besides an article, topic or author.
FRONT_PAGE: Final = "front-page"  # an old blog's home, e.g. /page/2/'s archive
GONE: Final = "gone"  # answered 410 Gone: a WordPress page Pressroom has no model for
type LegacyTarget = Article | Topic | Author | MediaItem | Page | Literal["front-page", "gone"]
# The target columns (LEGACY_TARGETS: article, topic, author, media item, page ids), is_gone.
type LegacyColumns = tuple[int | None, int | None, int | None, int | None, int | None, bool]


def _legacy_columns(target: LegacyTarget) -> LegacyColumns:
    """(article, topic, author, media item ids, is gone) of a LegacyPath row to `target`."""
    return (
        target.pk if isinstance(target, Article) else None,
        target.pk if isinstance(target, Topic) else None,
        target.pk if isinstance(target, Author) else None,
        target.pk if isinstance(target, MediaItem) else None,
        target.pk if isinstance(target, Page) else None,
        target == GONE,
    )


def _own_url_builder() -> Callable[[LegacyTarget], str]:
    """The address of a legacy path's target: its get_absolute_url(), without a reverse() per
    target (an import gives two old addresses per post), or '/' for the front page."""
    builders = {
        Article: slug_url_builder("publishing:article-detail"),
        Topic: slug_url_builder("publishing:topic-detail"),
        Author: slug_url_builder("publishing:author-detail"),
    }

    def own_url(target: LegacyTarget) -> str:
        if isinstance(target, Article | Topic | Author):
            return builders[type(target)](target.slug)
        if isinstance(target, Page):
            return f"/{target.path}/"  # as old addresses are stored: percent-decoded
        return "/"

    return own_url


def write_legacy_paths(
    wanted: Mapping[str, LegacyTarget], *, keep_existing: bool = False, per_page: int | None = None
) -> list[str]:
    """Make each old path redirect to its target, in three queries however many there are.

    A path that already leads elsewhere is re-pointed, unless `keep_existing` (an import from
    a second site must not take over the first one's addresses): it is then left alone and
    returned among the clashes. `per_page` is how many posts the old archive at these paths
    showed a page. The front page itself ('/') never redirects, nor does a path that is
    already the target's own address."""
    targets: dict[str, LegacyTarget] = {}
    own_url = _own_url_builder()
    for raw, target in wanted.items():
        path = normalize_legacy_path(raw)
        if path and path != "/" and path != own_url(target):
            targets[path] = target
    if not targets:
        return []
    to_update = []
    clashes = []
    for legacy in LegacyPath.objects.filter(path__in=list(targets)):
        target = targets.pop(legacy.path)
        columns = _legacy_columns(target)
        current = (*(getattr(legacy, f"{name}_id") for name in LEGACY_TARGETS), legacy.is_gone)
        if current != columns and keep_existing:
            clashes.append(legacy.path)
        elif current != columns or (per_page and legacy.per_page != per_page):
            for name, value in zip(LEGACY_TARGETS, columns, strict=False):
                setattr(legacy, f"{name}_id", value)
            legacy.is_gone = columns[-1]  # type: ignore[assignment]
            legacy.per_page = per_page or legacy.per_page
            to_update.append(legacy)
    LegacyPath.objects.bulk_update(to_update, [*LEGACY_TARGETS, "is_gone", "per_page"])
    insert_rows(
        LegacyPath,
        ["path", *LEGACY_TARGETS, "is_gone", "per_page"],
        [(path, *_legacy_columns(target), per_page) for path, target in targets.items()],
    )
    return sorted(clashes)


def normalize_legacy_path(path: str) -> str:
    """'/2019/05/story' and 'https://old.example/2019/05/story/' both become '/2019/05/story/'."""
    parts = urlsplit(path.strip())
    normalized = parts.path or "/"
    if not normalized.startswith("/"):
        normalized = "/" + normalized
    if not normalized.endswith("/") and "." not in normalized.rsplit("/", 1)[-1]:
        normalized += "/"
    if parts.query:
        normalized += "?" + parts.query
    return normalized[:700]


@transaction.atomic
def save_topic(topic: Topic) -> Topic:
    topic.name = strip_control_characters(topic.name)
    topic.description = strip_control_characters(topic.description)
    if not topic.slug:
        topic.slug = unique_slug(Topic, topic.name, exclude_pk=topic.pk)
    previous = Topic.objects.filter(pk=topic.pk).values_list("slug", flat=True).first()
    topic.save()
    if previous and previous != topic.slug:
        # Links to the old address (and its feeds and pages) keep working.
        write_legacy_paths({slug_url_builder("publishing:topic-detail")(previous): topic})
    announce_change()
    return topic


@transaction.atomic
def save_topics(new: Sequence[Topic], changed: Sequence[Topic] = ()) -> None:
    """Create and update many topics in a few statements (imports): what `save_topic` does for
    one. A new topic's slug is the one it asks for (else one made from its name), made unique
    across the batch and the table; `changed` topics have their name, description and parent
    written. The change is announced after commit."""
    for topic in [*new, *changed]:
        topic.name = strip_control_characters(topic.name)
        topic.description = strip_control_characters(topic.description)
    wanted = [wanted_slug(topic.slug, topic.name) for topic in new]
    slugs = SlugReservations(
        Topic, wanted, max_length=Topic._meta.get_field("slug").max_length or 255
    )
    for topic, text in zip(new, wanted, strict=True):
        topic.slug = slugs.take(text, topic)
    Topic.objects.bulk_create(new)
    Topic.objects.bulk_update(
        [topic for topic in changed if topic.pk], ["name", "description", "parent"]
    )
    announce_change()


@transaction.atomic
def save_author(author: Author) -> Author:
    author.name = strip_control_characters(author.name)
    author.bio = strip_control_characters(author.bio)
    if not author.slug:
        author.slug = unique_slug(Author, author.name, exclude_pk=author.pk)
    previous = Author.objects.filter(pk=author.pk).values_list("slug", flat=True).first()
    author.save()
    photo = author.photo
    media_services.record_uses(author, "photo", [photo] if photo else [], label=author.name)
    if previous and previous != author.slug:
        write_legacy_paths({slug_url_builder("publishing:author-detail")(previous): author})
    announce_change()
    return author


# Pages.

PAGE_SLUG_LENGTH = Page._meta.get_field("slug").max_length or 100


def page_url(path: str) -> str:
    """The address of the page at `path` ('about/team' -> '/about/team/')."""
    return reverse("pages:page-detail", kwargs={"path": path})


def reserved_page_prefixes() -> set[str]:
    """First segments no page may have, beyond Django's own addresses."""
    return {settings.STATIC_URL, settings.MEDIA_URL, "/preview/"}


def check_sub_page_addresses(previous: str, path: str) -> None:
    """Raise ArticleStateError, naming the sub-page, when moving the page at `previous` to
    `path` would put one of its sub-pages at an address no page can have."""
    for child in Page.objects.filter(path__startswith=previous + "/").only("path"):
        moved = path + child.path[len(previous) :]
        try:
            check_page_address(moved)
        except ArticleStateError as error:
            raise ArticleStateError(
                f"Its sub-page /{child.path}/ would move to /{moved}/: {error}"
            ) from None


def check_page_address(path: str) -> None:
    """Raise ArticleStateError when /<path>/ is another view's address (/topics/, /admin/ ...)
    or too long: the page could never be reached there."""
    if len(path) > Page.PATH_LENGTH:
        raise ArticleStateError("The page's address is too long: shorten its slug or its parents'.")
    if f"/{path.split('/', 1)[0]}/" in reserved_page_prefixes():
        # Served before Django in the nginx recipe (static files, media), or kept from search
        # engines by robots.txt (previews): a page there would never be read.
        raise ArticleStateError(
            f"The address /{path}/ belongs to another part of the site: choose another slug."
        )
    from django.urls import Resolver404, resolve

    try:
        match = resolve(f"/{path}/")  # as request.path_info comes: percent-decoded
    except Resolver404:
        match = None
    if match is None or match.view_name != "pages:page-detail":
        raise ArticleStateError(
            f"The address /{path}/ belongs to another part of the site: choose another slug."
        )


def prepare_page(page: Page) -> None:
    """The rules every page write applies, in memory: a cleaned body, a title on one line, the
    excerpt, a publication time for a published page, a slug, and its full path."""
    page.body = clean_body_html(page.body or "")
    title = " ".join(strip_control_characters(page.title).split())
    page.title = title[: Page._meta.get_field("title").max_length]
    page.summary = strip_control_characters(page.summary)
    page.excerpt = make_excerpt(page.body, page.summary)
    if page.status == Page.Status.PUBLISHED and page.published_at is None:
        page.published_at = timezone.now()
    page.slug = page.slug or slugify(page.title, allow_unicode=True)[:PAGE_SLUG_LENGTH].strip("-")
    page.slug = page.slug or "page"
    parent_path = "/".join(parent.slug for parent in page.ancestors())
    base = page.slug
    for number in range(1, 1000):
        if number > 1:
            page.slug = f"{base[: PAGE_SLUG_LENGTH - 5]}-{number}"
        page.path = f"{parent_path}/{page.slug}" if parent_path else page.slug
        if not Page.objects.at_path(page.path).exclude(pk=page.pk).exists():
            break
    check_page_address(page.path)


@transaction.atomic
def save_page(
    page: Page,
    *,
    by: Any = None,
    note: str = "",
    settles_pending: int | None = None,
    require_alt_text: bool = True,
) -> Page:
    """Create or update a page: clean, excerpt, path (its sub-pages' too, the old ones kept as
    redirects), media uses, a revision, then announce. Raises ArticleStateError when the
    address is another view's, and MissingAltTextError for a published page whose library
    images nobody has described."""
    previous = (
        Page.objects.select_for_update().filter(pk=page.pk).values_list("path", flat=True).first()
        if page.pk
        else None
    )
    prepare_page(page)
    page.updated_at = timezone.now()
    body_items = media_services.items_in_html(page.body)
    missing = [item for item in body_items if item.needs_alt_text]
    if require_alt_text and page.status == Page.Status.PUBLISHED and missing:
        raise MissingAltTextError(missing)
    page.save()
    media_services.record_uses(page, "body", body_items, label=page.title)
    old_addresses: dict[str, LegacyTarget] = {}
    if previous and previous != page.path:
        old_addresses[f"/{previous}/"] = page
        # Sub-pages move with it; their old addresses keep working too.
        for child in Page.objects.filter(path__startswith=previous + "/").order_by("path"):
            old_addresses[f"/{child.path}/"] = child
            child.path = page.path + child.path[len(previous) :]
            check_page_address(child.path)  # the form says it first (check_sub_page_addresses)
            child.save(update_fields=["path"])
    write_legacy_paths(old_addresses)
    revisions.next_revision(page, revisions.page_snapshot(page), note=note, by=by).save()
    if settles_pending:
        for pending in Revision.objects.of(page).pending().filter(number=settles_pending):
            pending.close_pending(Revision.State.PUBLISHED)
            pending.save(update_fields=["state"])
    announce_change()
    return page


@transaction.atomic
def publish_page(page: Page, *, by: Any = None) -> Page:
    page.publish()
    return save_page(page, by=by, note="Published")


@transaction.atomic
def unpublish_page(page: Page, *, by: Any = None) -> Page:
    page.unpublish()
    return save_page(page, by=by, note="Unpublished")


@transaction.atomic
def save_pending_page_change(page: Page, *, by: Any = None, note: str = "") -> Revision:
    """Keep the changes made to `page` (in memory) as a pending revision, as
    `save_pending_change` does for an article."""
    if page.pk is None:
        raise ArticleStateError("A new page is saved as a draft, not as a pending change.")
    Page.objects.select_for_update().filter(pk=page.pk).exists()
    prepare_page(page)
    return _record_pending_snapshot(page, revisions.page_snapshot(page), by, note)


@transaction.atomic
def delete_page(page: Page) -> None:
    """Delete a page without sub-pages (they would lose their address): raises
    ArticleStateError when it has some."""
    if page.children.exists():
        raise ArticleStateError(
            f"“{page}” has sub-pages: move or delete them first, so no address breaks silently."
        )
    media_services.forget_uses(page)
    page.delete()
    announce_change()
