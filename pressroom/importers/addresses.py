"""Every address family a WordPress export implies, and a walk of them against the running code
(`pressroom check_legacy_urls`): proof that the move lost nothing, before DNS is switched."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import BinaryIO
from urllib.parse import urlsplit

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pressroom.importers.legacy import (
    author_paths,
    category_paths,
    old_path,
    query_paths,
    tag_paths,
)
from pressroom.importers.models import ImportedItem
from pressroom.importers.wxr import WxrAuthor, WxrChannel, WxrItem, WxrTerm, parse_wxr
from pressroom.publishing.models import Article

FEED_SUFFIXES = ("feed/", "feed/atom/", "feed/rss2/", "feed/rdf/")
IMAGE_FILE = re.compile(r"(\.(?:jpe?g|png|gif|webp))$", re.I)
MAX_PAGES_PER_ARCHIVE = 50  # deeper old pages are checked on a sample, not all
GONE_FAMILIES = {"post (password-protected, 410 Gone)", "page (password-protected, 410 Gone)"}
# Addresses Pressroom itself answers with the same thing (/feed/atom/ is the site's feed there
# too; an imported page keeps its path, /about/team/); any other old address answered 200 is
# shadowed by one of Pressroom's own pages.
OWN_ADDRESS_FAMILIES = {"site feed", "comments feed", "front page", "page"}
# Checked only when the media were brought home (import_wxr --media-dir / --fetch-media).
MEDIA_FAMILIES = {"upload", "upload (a size WordPress made)", "attachment page"}


@dataclass
class Addresses:
    """The old addresses of one export, by family."""

    families: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    source_site: str = ""
    # The post each post address named (its wp:post_id), to check it leads to that post's
    # article and not to another site's or Pressroom's own page at the same address.
    post_ids: dict[str, str] = field(default_factory=dict)

    def add(self, family: str, *paths: str) -> None:
        self.families[family].extend(path for path in paths if path)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for family, paths in self.families.items():
            for path in dict.fromkeys(paths):
                yield family, path


def export_addresses(
    source: BinaryIO, *, per_page: int | None = None, site_timezone: tzinfo | None = None
) -> Addresses:
    """Each address WordPress answered for the export's site, grouped by family."""
    zone = site_timezone or timezone.get_default_timezone()
    addresses = Addresses()
    prefix = ""
    per_term: Counter[tuple[str, str]] = Counter()
    per_author: Counter[str] = Counter()
    parent_of: dict[str, str] = {}
    terms: list[WxrTerm] = []
    authors: list[WxrAuthor] = []
    published = 0
    dates: set[tuple[int, int, int]] = set()
    for record in parse_wxr(source):
        if isinstance(record, WxrChannel):
            prefix = record.path_prefix
            addresses.source_site = record.source_site
            per_page = per_page or record.posts_per_page
        elif isinstance(record, WxrAuthor):
            authors.append(record)
        elif isinstance(record, WxrTerm):
            terms.append(record)
            if record.taxonomy == "category":
                parent_of[record.slug] = record.parent_slug
        elif isinstance(record, WxrItem):
            _add_item(addresses, record, prefix)
            if record.post_type != "post" or record.status != "publish":
                continue
            if record.password.strip():
                continue  # not imported, so not in Pressroom's archives
            published += 1
            # A category's archive lists its sub-categories' posts too (as the import files them).
            filed = set()
            for ref in record.terms:
                filed.add((ref.taxonomy, ref.slug))
                parent = parent_of.get(ref.slug, "") if ref.taxonomy == "category" else ""
                while parent and ("category", parent) not in filed:
                    filed.add(("category", parent))
                    parent = parent_of.get(parent, "")
            per_term.update(filed)
            if record.creator:
                per_author[record.creator] += 1
            try:
                at = record.date(zone)
            except ValueError:
                at = None
            if at is not None:
                local = at.astimezone(zone)
                dates.add((local.year, local.month, local.day))
    per_page = per_page or 10
    for term in terms:
        if term.taxonomy == "category":
            bases = category_paths(prefix, term.slug, parent_of)
        else:
            bases = tag_paths(prefix, term.slug)
        family = term.taxonomy
        addresses.add(family, *bases)
        addresses.add(
            f"{family} (query)", *query_paths(prefix, term.taxonomy, term.slug, term.term_id)
        )
        addresses.add(f"{family} feed", *(bases[0] + suffix for suffix in FEED_SUFFIXES))
        addresses.add(
            f"{family} page", *_pages(bases[0], per_term[(term.taxonomy, term.slug)], per_page)
        )
    for author in authors:
        paths = author_paths(prefix, author.login, author.author_id)
        addresses.add("author", *(path for path in paths if "?" not in path))
        addresses.add("author (query)", *(path for path in paths if "?" in path))
        addresses.add("author feed", *(paths[0] + suffix for suffix in FEED_SUFFIXES))
        addresses.add("author page", *_pages(paths[0], per_author[author.login], per_page))
    addresses.add("front page", *_pages(f"{prefix}/", published, per_page))
    addresses.add("site feed", *(f"{prefix}/{suffix}" for suffix in FEED_SUFFIXES[1:]))
    addresses.add("comments feed", f"{prefix}/comments/feed/")
    addresses.add("search", f"{prefix}/?s=news", f"{prefix}/?s=a+b")
    for year, month, day in sorted(dates):
        addresses.add(
            "date archive",
            f"{prefix}/{year}/",
            f"{prefix}/{year}/{month:02d}/",
            f"{prefix}/{year}/{month:02d}/{day:02d}/",
        )
    return addresses


def _add_item(addresses: Addresses, item: WxrItem, prefix: str) -> None:
    if item.post_type == "attachment" and item.post_id and item.attachment_url:
        upload = old_path(item.attachment_url, prefix)
        addresses.add("upload", upload)
        if IMAGE_FILE.search(upload):
            # One of the sizes WordPress made of an image, by its name (photo-300x200.jpg).
            addresses.add("upload (a size WordPress made)", IMAGE_FILE.sub(r"-300x200\1", upload))
        addresses.add("attachment page", old_path(item.link, prefix))
        addresses.add("attachment page", f"{prefix}/?attachment_id={item.post_id}")
        return
    if item.status != "publish" or not item.post_id:
        return
    if item.post_type == "post" and item.password.strip():
        family = "post (password-protected, 410 Gone)"
        addresses.add(family, old_path(item.link, prefix), f"{prefix}/?p={item.post_id}")
    elif item.post_type == "post":
        permalink, query_form = old_path(item.link, prefix), f"{prefix}/?p={item.post_id}"
        addresses.add("post", permalink)
        addresses.add("post (?p=)", query_form)
        addresses.post_ids.update(
            dict.fromkeys(filter(None, (permalink, query_form)), item.post_id)
        )
    elif item.post_type == "page" and item.password.strip():
        family = "page (password-protected, 410 Gone)"
        addresses.add(family, old_path(item.link, prefix), f"{prefix}/?page_id={item.post_id}")
    elif item.post_type == "page":
        addresses.add("page", old_path(item.link, prefix))
        addresses.add("page (?page_id=)", f"{prefix}/?page_id={item.post_id}")


def _pages(base: str, posts: int, per_page: int) -> list[str]:
    """/page/2/ ... of an archive of `posts` posts, a sample of at most MAX_PAGES_PER_ARCHIVE."""
    last = math.ceil(posts / per_page)
    numbers = range(2, last + 1)
    step = max(1, math.ceil(len(numbers) / MAX_PAGES_PER_ARCHIVE))
    pages = list(numbers[::step])
    if last >= 2 and last not in pages:
        pages.append(last)
    return [f"{base}page/{number}/" for number in pages]


@dataclass
class FamilyResult:
    addresses: int = 0
    resolved: int = 0
    broken: list[str] = field(default_factory=list)


def media_were_imported(addresses: Addresses) -> bool:
    return ImportedItem.objects.filter(
        source_site=addresses.source_site, kind="attachment"
    ).exists()


def check_addresses(addresses: Addresses) -> dict[str, FamilyResult]:
    """Ask the running code (in process) for each address: it resolves when it answers one
    permanent redirect, inside the site, to a page answering 200 (410 Gone for the families
    documented as gone)."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    client = Client(HTTP_HOST=host)
    results: dict[str, FamilyResult] = defaultdict(FamilyResult)
    homes = _post_homes(addresses)
    # Every 404 and 410 asked would log a warning line; the table says what matters.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    try:
        _walk(addresses, client, homes, results)
    finally:
        request_log.setLevel(level)
    return results


def _walk(
    addresses: Addresses,
    client: Client,
    homes: dict[str, str],
    results: dict[str, FamilyResult],
) -> None:
    for family, path in addresses:
        result = results[family]
        result.addresses += 1
        post_id = addresses.post_ids.get(path)
        problem = _problem(
            client,
            path,
            gone=family in GONE_FAMILIES,
            own_address_allowed=family in OWN_ADDRESS_FAMILIES,
            expected=homes.get(post_id, "") if post_id else None,
        )
        if problem is None:
            result.resolved += 1
        else:
            result.broken.append(f"{path} ({problem})")


def _post_homes(addresses: Addresses) -> dict[str, str]:
    """Where each post of the export lives now (wp:post_id -> its article's address)."""
    article_ids = dict(
        ImportedItem.objects.filter(
            source_site=addresses.source_site, kind="post", article__isnull=False
        ).values_list("external_id", "article_id")
    )
    slugs = dict(Article.objects.filter(pk__in=article_ids.values()).values_list("pk", "slug"))
    return {
        post_id: reverse("publishing:article-detail", kwargs={"slug": slugs[article_id]})
        for post_id, article_id in article_ids.items()
        if article_id in slugs
    }


def _problem(
    client: Client,
    path: str,
    *,
    gone: bool,
    own_address_allowed: bool = False,
    expected: str | None = None,
) -> str | None:
    response = client.get(path)
    if response.status_code == 200 and not gone and urlsplit(path).query == "":
        if own_address_allowed:
            return None  # the old address is one Pressroom answers itself (/feed/atom/)
        return "shadowed: Pressroom answers this address with a page of its own"
    if gone:
        return None if response.status_code == 410 else f"answers {response.status_code}"
    if response.status_code != 301:
        return f"answers {response.status_code}"
    location = response["Location"]
    if settings.MEDIA_URL.startswith(("https://", "http://")) and location.startswith(
        settings.MEDIA_URL
    ):
        return None  # a library file in the object store (MEDIA_URL), not fetched here
    if not location.startswith("/") or location.startswith("//") or "\\" in location:
        return f"leaves the site: {location}"
    if expected is not None and urlsplit(location).path != expected:
        # Another site's post at the same address, or a post that was not imported.
        return f"leads to {location}, not to this post's article ({expected or 'not imported'})"
    landed = client.get(location)
    if landed.status_code != 200:
        return f"leads to {location}, which answers {landed.status_code}"
    return None
