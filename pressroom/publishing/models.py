"""The publishing model: articles, topics, authors and the paths that used to lead to them."""

from __future__ import annotations

import functools
import operator
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from pressroom.publishing.links import slug_url_builder


class ArticleStateError(Exception):
    """An article was asked to make a change its current state does not allow."""


class Topic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    is_featured = models.BooleanField(
        "featured", default=False, help_text="Featured topics are listed on the home page."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        # What reverse() gives, without a reverse() per link: an article page links each of
        # its topics and authors, and reverse() was a tenth of its render.
        return slug_url_builder("publishing:topic-detail")(self.slug)


FEDIVERSE_ACCOUNT = re.compile(r"@?[A-Za-z0-9_.-]{1,100}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}")


def _is_web_address(text: str, *, https_only: bool = False) -> bool:
    try:
        URLValidator(schemes=["https"] if https_only else ["http", "https"])(text)
    except ValidationError:
        return False
    return len(text) <= 500


class Author(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    bio = models.TextField(blank=True)
    photo = models.ForeignKey(
        "media.MediaItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A portrait from the media library (shown square).",
    )
    # db_default: the previous release inserts authors without these columns (deploy.md).
    website = models.URLField(
        blank=True,
        default="",
        db_default="",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
    )
    fediverse = models.CharField(
        "fediverse account",
        max_length=300,
        blank=True,
        default="",
        db_default="",
        help_text="@name@instance.social, or the profile's address. Linked with rel=me, so "
        "Mastodon shows this page as verified on the profile.",
    )
    other_links = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="Other profiles (Bluesky, a newsletter, ...): one address per line, at most 10.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="The editor account that writes as this author, if any.",
    )

    class Meta:
        ordering = ["name"]

    MAX_OTHER_LINKS = 10

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return slug_url_builder("publishing:author-detail")(self.slug)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        account = self.fediverse.strip()
        if account and not (
            FEDIVERSE_ACCOUNT.fullmatch(account) or _is_web_address(account, https_only=True)
        ):
            errors["fediverse"] = (
                "Write it as @name@instance.social or as https://instance.social/@name."
            )
        lines = [line.strip() for line in self.other_links.splitlines() if line.strip()]
        if len(lines) > self.MAX_OTHER_LINKS:
            errors["other_links"] = f"At most {self.MAX_OTHER_LINKS} addresses."
        elif bad := [line for line in lines if not _is_web_address(line)]:
            errors["other_links"] = f"Not a web address: {bad[0][:80]}"
        if errors:
            raise ValidationError(errors)

    @property
    def fediverse_url(self) -> str:
        """The fediverse account as a profile address: @name@host becomes https://host/@name."""
        account = self.fediverse.strip()
        if account.startswith("https://"):
            return account
        name, _, host = account.lstrip("@").partition("@")
        return f"https://{host}/@{name}" if name and host else ""

    @property
    def profile_links(self) -> list[str]:
        """Other profiles' addresses, one per line of `other_links`."""
        return [line.strip() for line in self.other_links.splitlines() if line.strip()]


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self, now: datetime | None = None) -> ArticleQuerySet:
        """Articles readers may see: published, or scheduled for a time that has come.

        The one definition of "published" (see Article.PUBLIC_STATUSES): the archive SQL in
        listings.py reads the same two conditions, and
        publishing/tests/test_published_definition.py holds them equal on both databases.
        """
        return self.filter(
            status__in=Article.PUBLIC_STATUSES, published_at__lte=now or timezone.now()
        )

    def next_publication_after(self, now: datetime) -> datetime | None:
        """When the next scheduled article becomes public (it does so without a save)."""
        return (
            self.filter(status=Article.Status.SCHEDULED, published_at__gt=now)
            .order_by("published_at")
            .values_list("published_at", flat=True)
            .first()
        )

    def review_queue(self) -> ArticleQuerySet:
        """Articles in review, the longest waiting first, with when they were submitted, by
        whom and the note that came with it (`submitted_at`, `submitted_note`)."""
        submission = ReviewComment.objects.filter(
            article=models.OuterRef("pk"), action=ReviewComment.Action.SUBMITTED
        ).order_by("-created_at", "-id")
        return (
            self.filter(status=Article.Status.IN_REVIEW)
            .select_related("created_by")
            .with_bylines()
            .annotate(
                submitted_at=models.Subquery(submission.values("created_at")[:1]),
                submitted_note=models.Subquery(submission.values("text")[:1]),
            )
            .order_by(models.F("submitted_at").asc(nulls_first=True), "id")
        )

    def for_topic(self, topic: Topic) -> ArticleQuerySet:
        return self.filter(topic_links__topic=topic)

    def by_author(self, author: Author) -> ArticleQuerySet:
        return self.filter(author_links__author=author)

    def newest_first(self) -> ArticleQuerySet:
        return self.order_by("-published_at", "-id")

    def for_listing(self) -> ArticleQuerySet:
        """Only what a list of teasers shows, with bylines fetched in one more query and the
        lead images with their thumbnails in two more."""
        from pressroom.media.rendering import ROLES, images_prefetch

        return (
            self.only(
                "id",
                "title",
                "slug",
                "excerpt",
                "published_at",
                "status",
                "original_outlet",
                "lead_image_url",
                "lead_image_alt",
                "lead_image",
            )
            .with_bylines()
            .prefetch_related(images_prefetch("lead_image", ROLES["teaser"].presets))
        )

    def with_corrections(self) -> ArticleQuerySet:
        """The corrections readers see (Article.corrections.all), in one more query."""
        return self.prefetch_related(
            models.Prefetch("corrections", queryset=Correction.objects.shown())
        )

    def with_bylines(self, photos: bool = False) -> ArticleQuerySet:
        """Bylines (Article.bylines) in the order the editor chose, in one more query; with
        `photos`, each author's portrait with its small square renditions too (two more
        queries, however many authors), as the article page's byline shows them."""
        links = ArticleAuthor.objects.select_related("author").order_by("position", "id")
        fields = ["id", "article_id", "position", "author__id", "author__name", "author__slug"]
        if photos:
            from pressroom.media.rendering import ROLES, images_prefetch

            links = links.prefetch_related(
                images_prefetch("author__photo", ROLES["square"].presets)
            )
            return self.prefetch_related(models.Prefetch("author_links", queryset=links))
        return self.prefetch_related(models.Prefetch("author_links", queryset=links.only(*fields)))


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        # Submitted by a contributor: waiting for an editor to send it back or publish it.
        IN_REVIEW = "review", "In review"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHED = "published", "Published"

    # "Published" is defined once: a status in PUBLIC_STATUSES and a publication time that has
    # come. ArticleQuerySet.published(), is_public, the listing links' copy (listing_state) and
    # the archive SQL in listings.py are all built from these two conditions. A scheduled article
    # is public as soon as its time comes; no job has to flip it.
    PUBLIC_STATUSES = (Status.SCHEDULED, Status.PUBLISHED)
    # Never seen by readers, and without a publication time of their own.
    UNPUBLISHED_STATUSES = (Status.DRAFT, Status.IN_REVIEW)
    # Who may publish, schedule, unpublish and review (the Editor role holds it; a Contributor
    # does not, and so writes and submits only their own drafts).
    PUBLISH_PERMISSION = "publishing.publish_article"
    # What an editor sets on an article itself (bylines and topics are links): the admin's form
    # and every revision's snapshot.
    EDITOR_FIELDS = (
        "title",
        "slug",
        "body",
        "editor_excerpt",
        "status",
        "published_at",
        "lead_image",
        "lead_image_url",
        "lead_image_alt",
        "original_outlet",
        "original_url",
        "canonical_url",
        "licence",
    )

    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=255, unique=True, allow_unicode=True)
    body = models.TextField(blank=True, help_text="Cleaned HTML.")
    editor_excerpt = models.TextField(
        "summary",
        blank=True,
        help_text="Shown in lists, feeds and the digest. Leave empty to use the first paragraph.",
    )
    excerpt = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    authors = models.ManyToManyField(Author, through="ArticleAuthor", related_name="articles")
    topics = models.ManyToManyField(Topic, through="ArticleTopic", related_name="articles")
    lead_image = models.ForeignKey(
        "media.MediaItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lead_of_articles",
        limit_choices_to={"kind": "image"},
        help_text="From the media library. Older articles may use the URL below instead.",
    )
    lead_image_url = models.URLField("lead image URL", max_length=1000, blank=True)
    lead_image_alt = models.CharField("lead image alt text", max_length=500, blank=True)
    original_outlet = models.CharField(
        max_length=200, blank=True, help_text="For republished pieces: who published it first."
    )
    original_url = models.URLField("original URL", max_length=1000, blank=True)
    canonical_url = models.URLField(
        "canonical URL",
        max_length=1000,
        blank=True,
        help_text="Defaults to the original URL for republished pieces.",
    )
    # db_default: the release before this column inserts articles without it (rolling upgrade).
    licence = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="For republished pieces: the licence it is republished under (shown at its "
        'foot, e.g. "CC BY-NC-ND 4.0").',
    )

    # Who wrote it here first: a contributor edits only the drafts they created.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # Deleting an article deletes its revisions (a generic relation: pages share the table).
    revisions = GenericRelation("publishing.Revision")

    objects = ArticleQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["status", "-published_at", "-id"], name="article_public_order"),
            # The admin's list order, with the title beside it: a title search (LIKE '%…%',
            # which no index can seek) scans this narrow index and fetches only matching rows,
            # not 100,000 rows with their bodies (on PostgreSQL a trigram index serves it).
            models.Index(fields=["-updated_at", "title"], name="article_updated_title"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "review"]) | Q(published_at__isnull=False),
                name="article_public_has_time",
            ),
        ]
        permissions = [
            ("publish_article", "Can publish, schedule, unpublish and review articles"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return slug_url_builder("publishing:article-detail")(self.slug)

    @property
    def shown_corrections(self) -> list[Correction]:
        """Corrections readers see, oldest first (ArticleQuerySet.with_corrections fetches them)."""
        # with_corrections (or the article page's read) kept only the shown ones; read where
        # they are kept, without building a related manager (a page asks three times).
        kept = getattr(self, "_prefetched_objects_cache", {}).get("corrections")
        if kept is not None:
            return list(kept)
        return list(self.corrections.shown())

    @property
    def bylines(self) -> list[Author]:
        """The authors in byline order, as chosen in the admin: every page, feed, JSON-LD
        block and email shows them so (ArticleQuerySet.with_bylines fetches them for a list)."""
        kept = getattr(self, "_prefetched_objects_cache", {}).get("author_links")
        if kept is not None:
            return [link.author for link in kept]
        links = self.author_links.select_related("author").order_by("position", "id")
        return [link.author for link in links]

    @property
    def shown_topics(self) -> list[Topic]:
        """The topics, by name (read where prefetch_related or the article page's read kept
        them, without building a related manager: a page asks three times)."""
        kept = getattr(self, "_prefetched_objects_cache", {}).get("topics")
        return list(kept if kept is not None else self.topics.all())

    @property
    def is_public(self) -> bool:
        return (
            self.status in self.PUBLIC_STATUSES
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    def listing_state(self) -> tuple[bool, datetime | None]:
        """What the topic and author links copy from the article ("is_public", "published_at"):
        the status half of "published"; the archive reads add the time half."""
        return self.status in self.PUBLIC_STATUSES, self.published_at

    @property
    def is_unpublished(self) -> bool:
        """A draft or an article in review: readers have never been shown this status."""
        return self.status in self.UNPUBLISHED_STATUSES

    @property
    def is_in_review(self) -> bool:
        return self.status == self.Status.IN_REVIEW

    def is_editable_by_contributor(self, user: Any) -> bool:
        """A contributor (no publish permission) edits their own drafts that were never
        published (new, or sent back to them), and nothing else: an article an editor took
        down stays as the editor left it."""
        return (
            self.status == self.Status.DRAFT
            and bool(self.created_by_id and self.created_by_id == getattr(user, "pk", None))
            and not self.was_published
        )

    @property
    def was_published(self) -> bool:
        """Published (or scheduled) at some time: it has a publication time (unpublishing keeps
        it), or its review ended in publication."""
        if self.published_at is not None:
            return True
        if self.pk is None:
            return False
        return self.review_comments.filter(
            action__in=[ReviewComment.Action.PUBLISHED, ReviewComment.Action.SCHEDULED]
        ).exists()

    @property
    def is_republished(self) -> bool:
        return bool(self.original_outlet or self.original_url)

    @property
    def effective_canonical_url(self) -> str:
        return self.canonical_url or self.original_url

    @property
    def effective_status(self) -> str:
        """What an editor needs to know: 'scheduled' turns into 'published' when its time comes."""
        if self.status == self.Status.SCHEDULED and self.is_public:
            return self.Status.PUBLISHED.label
        return self.get_status_display()

    # State changes. Services call these; each raises ArticleStateError on an illegal change.

    def publish(self, at: datetime | None = None) -> None:
        """Publish now, or at `at` (a future time schedules it)."""
        if not self.title.strip():
            raise ArticleStateError("An article needs a title before it can be published.")
        now = timezone.now()
        if at is None:
            # Publishing now keeps a past date (a correction, a re-publication) but never a future one.
            at = self.published_at if self.published_at and self.published_at <= now else now
        when = at
        if at > now:
            self.status = self.Status.SCHEDULED
        else:
            self.status = self.Status.PUBLISHED
        self.published_at = when

    def schedule(self, at: datetime) -> None:
        if at <= timezone.now():
            raise ArticleStateError("A scheduled time must be in the future; publish it instead.")
        self.publish(at=at)

    def unpublish(self) -> None:
        if self.is_unpublished:
            raise ArticleStateError("This article is not published.")
        self.status = self.Status.DRAFT

    def submit_for_review(self) -> None:
        """A contributor's draft goes to the editors' review queue."""
        if self.status == self.Status.IN_REVIEW:
            raise ArticleStateError("This article is already waiting for review.")
        if self.status != self.Status.DRAFT:
            raise ArticleStateError("Only a draft can be submitted for review.")
        if not self.title.strip():
            raise ArticleStateError("An article needs a title before it is submitted.")
        self.status = self.Status.IN_REVIEW

    def send_back(self) -> None:
        """An editor returns an article in review to its writer, as a draft to work on."""
        if self.status != self.Status.IN_REVIEW:
            raise ArticleStateError("Only an article in review can be sent back.")
        self.status = self.Status.DRAFT


class ArticleTopic(models.Model):
    """An article filed under a topic, with the article's public order copied in.

    The copy lets a topic archive page walk one index in order at any depth, instead of
    joining and sorting every article in the topic.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="topic_links")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="article_links")
    is_public = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "topic"], name="article_topic_unique")
        ]
        indexes = [
            models.Index(
                fields=["topic", "is_public", "-published_at", "-article"],
                name="topic_archive_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} in {self.topic_id}"


class ArticleAuthor(models.Model):
    """An author's byline on an article, in byline order, with the public order copied in."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="author_links")
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="article_links")
    position = models.PositiveSmallIntegerField(default=0)
    is_public = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["article", "author"], name="article_author_unique")
        ]
        indexes = [
            models.Index(
                fields=["author", "is_public", "-published_at", "-article"],
                name="author_archive_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} by {self.author_id}"


class PageQuerySet(models.QuerySet["Page"]):
    def published(self, now: datetime | None = None) -> PageQuerySet:
        """Pages readers may see (menus, the sitemap, the public view): published, at a
        publication time that has come."""
        return self.filter(status=Page.Status.PUBLISHED, published_at__lte=now or timezone.now())

    def next_publication_after(self, now: datetime) -> datetime | None:
        """When the next page published for a later time goes public (without a save)."""
        return (
            self.filter(status=Page.Status.PUBLISHED, published_at__gt=now)
            .order_by("published_at")
            .values_list("published_at", flat=True)
            .first()
        )

    def in_sitemap(self) -> PageQuerySet:
        return self.filter(show_in_sitemap=True)

    def at_path(self, path: str) -> PageQuerySet:
        """The page at 'about/team' (one look-up on the unique path index)."""
        return self.filter(path=path)


class Page(models.Model):
    """A standing page (About, Contact, Privacy, Republishing policy...) at /<slug>/, or under
    a parent page at /<parent path>/<slug>/. `path` is computed from the parents by the
    publishing services, which rewrite the children's paths (and keep the old ones as
    redirects) when a slug or parent changes."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    # What an editor sets on a page: the admin's form and every revision's snapshot.
    EDITOR_FIELDS = (
        "title",
        "slug",
        "parent",
        "body",
        "summary",
        "status",
        "published_at",
        "show_in_sitemap",
    )
    MAX_DEPTH = 6
    PATH_LENGTH = 700

    title = models.CharField(max_length=300)
    slug = models.SlugField(
        max_length=100,
        allow_unicode=True,
        help_text="The last part of the address: /about/ for 'about'. Leave empty to make one "
        "from the title.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="Nest this page under another: /about/team/ is 'team' under 'about'.",
    )
    path = models.CharField(
        max_length=PATH_LENGTH,
        unique=True,
        editable=False,
        help_text="The parents' slugs and this one's, joined by '/'.",
    )
    body = models.TextField(blank=True, help_text="Cleaned HTML.")
    summary = models.TextField(
        blank=True,
        help_text="For search engines and link previews. Leave empty for the first paragraph.",
    )
    excerpt = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    show_in_sitemap = models.BooleanField(
        default=True, help_text="List it in sitemap.xml for search engines (when published)."
    )

    revisions = GenericRelation("publishing.Revision")

    objects = PageQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="page_public_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("pages:page-detail", kwargs={"path": self.path})

    @property
    def is_public(self) -> bool:
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    def ancestors(self) -> list[Page]:
        """The parents, nearest last (/about/ before /about/team/ for /about/team/x/).
        Raises ArticleStateError on a loop or past MAX_DEPTH."""
        chain: list[Page] = []
        seen = {self.pk} if self.pk else set()
        parent = self.parent
        while parent is not None:
            if parent.pk in seen:
                raise ArticleStateError("A page cannot be nested under itself or its own sub-page.")
            if len(chain) >= self.MAX_DEPTH - 1:
                raise ArticleStateError(f"Pages nest at most {self.MAX_DEPTH} deep.")
            seen.add(parent.pk)
            chain.insert(0, parent)
            parent = parent.parent
        return chain

    def computed_path(self) -> str:
        return "/".join([*(page.slug for page in self.ancestors()), self.slug])

    def publish(self, at: datetime | None = None) -> None:
        if not self.title.strip():
            raise ArticleStateError("A page needs a title before it can be published.")
        now = timezone.now()
        self.status = self.Status.PUBLISHED
        self.published_at = at or (
            self.published_at if self.published_at and self.published_at <= now else now
        )

    def unpublish(self) -> None:
        if self.status == self.Status.DRAFT:
            raise ArticleStateError("This page is not published.")
        self.status = self.Status.DRAFT


# The columns of LegacyPath naming what an old address leads to: at most one is set.
LEGACY_TARGETS = ("article", "topic", "author", "media_item", "page")


class LegacyPath(models.Model):
    """An old address (e.g. from WordPress) that answers with a permanent redirect: to its
    article, topic or author; to the front page when it names none (an old blog's home); or,
    when `is_gone`, with 410 Gone (a WordPress page Pressroom did not import)."""

    path = models.CharField(max_length=700, unique=True, help_text="Path and query, e.g. /?p=42")
    article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.CASCADE, related_name="legacy_paths"
    )
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.CASCADE, related_name="legacy_paths"
    )
    author = models.ForeignKey(
        Author, null=True, blank=True, on_delete=models.CASCADE, related_name="legacy_paths"
    )
    page = models.ForeignKey(
        "publishing.Page",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="legacy_paths",
    )
    # An old upload (/wp-content/uploads/2019/05/photo.jpg) or attachment page brought into the
    # library: it leads to the file.
    media_item = models.ForeignKey(
        "media.MediaItem",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="legacy_paths",
    )
    is_gone = models.BooleanField(
        db_default=False,
        default=False,
        help_text="Answer 410 Gone: the old page was not brought over.",
    )
    # How many posts the old site showed a page, so /tag/x/page/3/ lands on the same articles.
    per_page = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Posts per page of the old archive at this address."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(**{f"{name}__isnull": True for name in LEGACY_TARGETS})
                | functools.reduce(
                    operator.or_,
                    (
                        Q(
                            **{f"{other}__isnull": other != name for other in LEGACY_TARGETS},
                            is_gone=False,
                        )
                        for name in LEGACY_TARGETS
                    ),
                ),
                name="legacy_path_one_target",
            )
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def target(self) -> Article | Topic | Author | Page | None:
        """What the path leads to; None for the front page (or, when gone, nothing)."""
        return self.article or self.topic or self.author or self.page

    def target_url(self) -> str:
        if self.media_item is not None:
            return self.media_item.url
        target = self.target
        return target.get_absolute_url() if target is not None else "/"


class RevisionQuerySet(models.QuerySet["Revision"]):
    def of(self, obj: models.Model) -> RevisionQuerySet:
        """The revisions of one article or page, whatever their state."""
        return self.filter(
            content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk
        )

    def pending(self) -> RevisionQuerySet:
        return self.filter(state=Revision.State.PENDING)


class Revision(models.Model):
    """One saved state of an article (title, body, summary, bylines in order, topics, lead image,
    slug, status and publication time) or of a page (Page.EDITOR_FIELDS), with who saved it
    and when.

    Stored compactly (publishing/revisions.py): a revision is either a whole snapshot (a
    keyframe, `base_number == number`) or only what changed since revision `number - 1`, text
    fields as copied and inserted chunks; both zlib-compressed JSON. Rebuilding one reads the
    rows from its keyframe on. Keyed by content type and id, without a database foreign key, so
    pages share the table and the previous release (which knows no revisions) can still
    delete an article during an upgrade.
    """

    class State(models.TextChoices):
        # What the article was after a save.
        SAVED = "saved", "Saved"
        # A change not yet on the article: readers see the published version until it is
        # published. (Review is the article's own status, "In review", with ReviewComment
        # keeping who submitted, commented and sent back: only unpublished articles are
        # reviewed, so their revisions need no review state.)
        PENDING = "pending", "Pending change"
        PUBLISHED = "published", "Pending change, published"
        DISCARDED = "discarded", "Pending change, discarded"

    content_type = models.ForeignKey(ContentType, on_delete=models.DB_CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    number = models.PositiveIntegerField(help_text="1 for the first revision of the object.")
    base_number = models.PositiveIntegerField(
        help_text="The keyframe this revision's data builds on (its own number: a whole snapshot)."
    )
    data = models.BinaryField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.SAVED)
    changed = models.CharField(
        max_length=300, blank=True, help_text="The fields this revision changed, for lists."
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set NULL by the database: the previous release deletes users without knowing this table.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="+",
    )

    objects = RevisionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "number"], name="revision_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Revision {self.number} of {self.content_type_id}:{self.object_id}"

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING

    def close_pending(self, state: str) -> None:
        """A pending change is published or discarded once, and nothing else changes state."""
        if self.state != self.State.PENDING:
            raise ArticleStateError("This change is not pending any more.")
        if state not in (self.State.PUBLISHED, self.State.DISCARDED):
            raise ArticleStateError(f"A pending change cannot become {state!r}.")
        self.state = state


class CorrectionQuerySet(models.QuerySet["Correction"]):
    def shown(self) -> CorrectionQuerySet:
        """What readers see: not removed (a removal keeps the row and its reason)."""
        return self.filter(removed_at__isnull=True)

    def public(self) -> CorrectionQuerySet:
        """Shown, on articles readers can see: the /corrections/ page and its feed."""
        return self.shown().filter(
            article__status__in=Article.PUBLIC_STATUSES, article__published_at__lte=timezone.now()
        )

    def newest_first(self) -> CorrectionQuerySet:
        return self.order_by("-noted_at", "-id")


class Correction(models.Model):
    """A correction or update told to readers on a published article, and on /corrections/.

    Never deleted: removing one records who, when and why, and readers stop seeing it.
    """

    class Kind(models.TextChoices):
        CORRECTION = "correction", "Correction"
        UPDATE = "update", "Update"
        CLARIFICATION = "clarification", "Clarification"

    MAX_TEXT = 2000

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="corrections")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CORRECTION)
    text = models.TextField(
        max_length=MAX_TEXT, help_text="What was wrong and what is right now, in plain words."
    )
    noted_at = models.DateTimeField(
        "date", default=timezone.now, blank=True, help_text="Leave empty for now."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removal_reason = models.TextField(blank=True, default="", db_default="", max_length=1000)

    objects = CorrectionQuerySet.as_manager()

    class Meta:
        ordering = ["noted_at", "id"]
        indexes = [models.Index(fields=["-noted_at", "-id"], name="correction_newest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.noted_at:%Y-%m-%d}: {self.text[:60]}"

    @property
    def kind_label(self) -> str:
        """What get_kind_display() gives, without building the choices' lookup on every call:
        an article page shows each correction twice (on the page and in its JSON-LD)."""
        return _CORRECTION_KIND_LABELS.get(self.kind, self.kind)

    @property
    def published_at(self) -> datetime:
        """Where it sits in /corrections/'s newest-first order (pagination.Keyed)."""
        return self.noted_at

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    def remove(self, *, by: Any, reason: str) -> None:
        """Stop showing it to readers, keeping why. Raises ValueError without a reason."""
        reason = reason.strip()
        if not reason:
            raise ValueError("Say why the correction is removed: readers saw it.")
        if self.is_removed:
            raise ValueError("This correction was removed already.")
        self.removed_at = timezone.now()
        self.removed_by = by
        self.removal_reason = reason[:1000]


# Correction.kind_label's lookup (the labels are plain strings, not translated).
_CORRECTION_KIND_LABELS: dict[str, str] = dict(Correction.Kind.choices)


class ReviewCommentQuerySet(models.QuerySet["ReviewComment"]):
    def submissions(self) -> ReviewCommentQuerySet:
        return self.filter(action=ReviewComment.Action.SUBMITTED)


class ReviewComment(models.Model):
    """One step of an article's review, shown on the article in the admin: a submission, a
    comment, a send-back (with what to fix) or the publication that ended it. Each is emailed
    to the other side (the editors, or the article's writer) by the task worker."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted for review"
        COMMENT = "comment", "Comment"
        SENT_BACK = "sent_back", "Sent back"
        PUBLISHED = "published", "Published"
        SCHEDULED = "scheduled", "Scheduled"

    MAX_TEXT = 4000

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="review_comments")
    action = models.CharField(max_length=12, choices=Action.choices, default=Action.COMMENT)
    text = models.TextField(blank=True, max_length=MAX_TEXT)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When its email went; NULL until then (the task sends it once, however often it runs).
    notified_at = models.DateTimeField(null=True, blank=True)

    objects = ReviewCommentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {self.article_id}"


# The home page's and the menus' models live beside the reads that use them; Django finds
# models through this module.
from pressroom.publishing.curation import HomeSlot, Menu, MenuItem  # noqa: E402, F401
