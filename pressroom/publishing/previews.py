"""Previews: an article or page as readers will see it, before they can.

An editor previews any revision in the admin; someone without an account (a source checking
a quote, a partner outlet) opens a signed link that expires after PREVIEW_LINK_SECONDS. The
link names the article (or page) only: it shows its pending change if there is one, else it
as saved (a draft, usually), so a fix made after sending it is what they read.
"""

from __future__ import annotations

import copy

from django.conf import settings
from django.core import signing

from pressroom.media.models import MediaItem
from pressroom.publishing import revisions
from pressroom.publishing.html import make_excerpt
from pressroom.publishing.models import Article, ArticleAuthor, Author, Page, Topic

SALT = "pressroom.publishing.preview-link"
MAX_TOKEN_LENGTH = 300


class PreviewLinkInvalid(Exception):
    """The link was altered, or was never made here."""


class PreviewLinkExpired(PreviewLinkInvalid):
    """The link was made here, but longer ago than PREVIEW_LINK_SECONDS."""


# What a link may name: the key in its signed value, and the model.
KINDS: dict[str, type[Article] | type[Page]] = {"article": Article, "page": Page}


def make_token(obj: Article | Page) -> str:
    kind = "page" if isinstance(obj, Page) else "article"
    return signing.TimestampSigner(salt=SALT).sign_object({kind: obj.pk})


def read_token(token: str) -> tuple[str, int]:
    """What a preview link names: ("article" or "page", its id). Raises PreviewLinkExpired or
    PreviewLinkInvalid."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise PreviewLinkInvalid("This preview link is not valid.")
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign_object(token, max_age=settings.PREVIEW_LINK_SECONDS)
    except signing.SignatureExpired as error:
        raise PreviewLinkExpired("This preview link has expired.") from error
    except (signing.BadSignature, ValueError, UnicodeDecodeError) as error:
        raise PreviewLinkInvalid("This preview link is not valid.") from error
    given = value if isinstance(value, dict) else {}
    named: list[tuple[str, int]] = [
        (kind, pk) for kind in KINDS if isinstance(pk := given.get(kind), int)
    ]
    if len(named) != 1:
        raise PreviewLinkInvalid("This preview link is not valid.")
    return named[0]


def stored_article(article_id: int) -> Article | None:
    """The article with what its page shows, fetched as the public view fetches it."""
    return (
        Article.objects.select_related("lead_image")
        .with_bylines(photos=True)
        .prefetch_related("topics", "lead_image__renditions")
        .filter(pk=article_id)
        .first()
    )


def as_of(article: Article, snapshot: revisions.Snapshot) -> Article:
    """A copy of `article` (unsaved) showing `snapshot`: fields, bylines in order, topics and
    lead image, with the excerpt made as a save would make it."""
    previewed = copy.copy(article)
    previewed._state = copy.copy(article._state)
    previewed._state.fields_cache = {}
    author_ids, topic_ids = revisions.apply_snapshot(previewed, snapshot)
    if not previewed.slug:
        # A pending change kept before its slug was settled: the article's own address (the
        # page's links are built from it, and a preview must always render).
        previewed.slug = article.slug
    previewed.excerpt = make_excerpt(previewed.body, previewed.editor_excerpt)
    authors = Author.objects.in_bulk(author_ids)
    topics = Topic.objects.filter(pk__in=topic_ids)
    bylines = [authors[pk] for pk in author_ids if pk in authors]
    links = [
        ArticleAuthor(article=previewed, author=author, position=position)
        for position, author in enumerate(bylines)
    ]
    # What Article.bylines and article.topics read, filled from the snapshot, not the database.
    previewed._prefetched_objects_cache = {  # type: ignore[attr-defined]
        "author_links": _done(ArticleAuthor.objects.none(), links),
        "authors": _done(Author.objects.none(), bylines),
        "topics": _done(Topic.objects.none(), list(topics)),
    }
    previewed.lead_image = (
        MediaItem.objects.prefetch_related("renditions").filter(pk=previewed.lead_image_id).first()
        if previewed.lead_image_id
        else None
    )
    return previewed


def _done(queryset, rows: list):
    """A queryset already evaluated to `rows`, as prefetch_related leaves one."""
    queryset._result_cache = rows
    queryset._prefetch_done = True
    return queryset


def page_as_of(page: Page, snapshot: revisions.Snapshot) -> Page:
    """A copy of `page` (unsaved) showing `snapshot`, its excerpt made as a save makes it."""
    previewed = copy.copy(page)
    previewed._state = copy.copy(page._state)
    previewed._state.fields_cache = {}
    revisions.apply_fields(previewed, snapshot, Page.EDITOR_FIELDS)
    previewed.excerpt = make_excerpt(previewed.body, previewed.summary)
    return previewed


def stored(obj: Article | Page) -> Article | Page | None:
    """The article or page fetched as its public view fetches it."""
    if isinstance(obj, Page):
        return Page.objects.filter(pk=obj.pk).first()
    return stored_article(obj.pk)


def revision_of(obj: Article | Page, snapshot: revisions.Snapshot) -> Article | Page:
    """`obj` as a revision's snapshot shows it."""
    if isinstance(obj, Page):
        return page_as_of(obj, snapshot)
    return as_of(obj, snapshot)


def for_link(kind: str, pk: int) -> tuple[Article | Page, bool] | None:
    """What a preview link shows: the pending change if there is one (True), else the
    article or page as saved (False); None when it is gone."""
    shown = stored(KINDS[kind](pk=pk))
    if shown is None:
        return None
    pending = revisions.pending_change(shown)
    if pending is None:
        return shown, False
    return revision_of(shown, revisions.snapshot_of(pending)), True
