"""Old WordPress addresses that must keep working, and unique slugs for rows written in bulk."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from django.db.models import Model
from django.utils.text import slugify

from pressroom.importers.bulk import insert_rows
from pressroom.publishing.models import Article, LegacyPath, Topic
from pressroom.publishing.services import normalize_legacy_path

MAX_CATEGORY_DEPTH = 20


def old_path(link: str) -> str:
    """The path (and query) of an old permalink, percent-decoded the way Django hands
    request.path to the redirect middleware."""
    if not link:
        return ""
    parts = urlsplit(link)
    path = unquote(parts.path) or "/"
    return f"{path}?{parts.query}" if parts.query else path


def category_paths(prefix: str, slug: str, parent_of: dict[str, str]) -> list[str]:
    """WordPress answers a nested category at /category/parent/child/ and at /category/child/."""
    chain = [slug]
    while (
        (parent := parent_of.get(chain[0]))
        and parent not in chain
        and len(chain) < MAX_CATEGORY_DEPTH
    ):
        chain.insert(0, parent)
    return list(
        dict.fromkeys([f"{prefix}/category/{'/'.join(chain)}/", f"{prefix}/category/{slug}/"])
    )


def tag_paths(prefix: str, slug: str) -> list[str]:
    return [f"{prefix}/tag/{slug}/"]


def write_legacy_paths(wanted: Mapping[str, Article | Topic]) -> None:
    """Make each old path redirect to its article or topic, re-pointing it if it led elsewhere.

    services.add_legacy_path does the same for one path; this does it for a batch in three
    queries.
    """
    targets: dict[str, Article | Topic] = {}
    for raw, target in wanted.items():
        path = normalize_legacy_path(raw)
        if path and path != target.get_absolute_url():
            targets[path] = target
    to_update = []
    for legacy in LegacyPath.objects.filter(path__in=list(targets)):
        target = targets.pop(legacy.path)
        article = target if isinstance(target, Article) else None
        topic = target if isinstance(target, Topic) else None
        if (legacy.article_id, legacy.topic_id) != (
            article.pk if article else None,
            topic.pk if topic else None,
        ):
            legacy.article, legacy.topic = article, topic
            to_update.append(legacy)
    LegacyPath.objects.bulk_update(to_update, ["article", "topic"])
    insert_rows(
        LegacyPath,
        ["path", "article", "topic"],
        [
            (
                path,
                target.pk if isinstance(target, Article) else None,
                target.pk if isinstance(target, Topic) else None,
            )
            for path, target in targets.items()
        ],
    )


class SlugReservations:
    """Unique slugs for a batch of rows of one model, like services.unique_slug, but with one
    query for the whole batch and a second only for the rare slug that is already taken."""

    def __init__(self, model: type[Model], texts: list[str], *, max_length: int) -> None:
        self.model = model
        self.max_length = max_length
        bases = {self.base(text) for text in texts}
        self.owners = dict(model._default_manager.filter(slug__in=bases).values_list("slug", "pk"))
        self.reserved: set[str] = set()

    def base(self, text: str) -> str:
        return slugify(text, allow_unicode=True)[: self.max_length - 8].strip("-") or "untitled"

    def take(self, text: str, row: Model) -> str:
        """A free slug for `row` made from `text`; a row keeps the one it has when it still
        fits ('peru-2' stays 'peru-2')."""
        base = self.base(text)
        current = getattr(row, "slug", "") if row.pk else ""
        if (
            current
            and current not in self.reserved
            and re.fullmatch(rf"{re.escape(base)}(-\d+)?", current)
        ):
            slug = current
        elif base not in self.reserved and self.owners.get(base, row.pk) == row.pk:
            slug = base
        else:
            taken = self.reserved | set(
                self.model._default_manager.filter(slug__startswith=base)
                .exclude(pk=row.pk)
                .values_list("slug", flat=True)
            )
            number = 2
            while f"{base}-{number}" in taken:
                number += 1
            slug = f"{base}-{number}"
        self.reserved.add(slug)
        return slug
