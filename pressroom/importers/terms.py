"""WordPress categories and tags become topics: upserted on (source site, taxonomy, slug)."""

from __future__ import annotations

from pressroom.importers.legacy import category_paths, query_paths, tag_paths
from pressroom.importers.models import ImportedItem
from pressroom.importers.report import KindSummary
from pressroom.importers.wpcontent import plain_title
from pressroom.importers.wxr import WxrTerm
from pressroom.publishing import services
from pressroom.publishing.html import html_to_text
from pressroom.publishing.models import Topic
from pressroom.publishing.services import write_legacy_paths

UNCHANGED = "unchanged since the last import"
MERGED = "a tag and a category with the same slug share one topic"

TermKey = tuple[str, str]  # (taxonomy, slug)


def other_taxonomy(key: TermKey) -> TermKey:
    return ("tag" if key[0] == "category" else "category", key[1])


class TermWriter:
    """Writes terms a batch at a time, inside the caller's transaction.

    A tag and a category with the same slug share one topic (WordPress keeps them apart; a
    newsroom has one topic per subject), described by the category.
    """

    def __init__(
        self,
        source: str,
        path_prefix: str,
        summary: KindSummary,
        *,
        per_page: int | None = None,
        clashes: list[str] | None = None,
    ) -> None:
        self.source = source
        self.path_prefix = path_prefix
        self.summary = summary
        self.per_page = per_page  # posts a page of the old archives showed
        self.clashes = clashes if clashes is not None else []
        self.topic_ids: dict[TermKey, int] = {
            (kind, slug): topic_id
            for kind, slug, topic_id in ImportedItem.objects.filter(
                source_site=source, kind__in=["category", "tag"]
            ).values_list("kind", "external_id", "topic_id")
        }
        self.parent_of: dict[str, str] = {}  # category slug -> parent slug, from the file

    def topic_id(self, taxonomy: str, slug: str, name: str) -> int:
        """The topic of a term an item is filed under, created if the header never declared it."""
        key = (taxonomy, slug)
        if key not in self.topic_ids:
            self.write([WxrTerm(taxonomy, slug, name)])
        return self.topic_ids[key]

    def with_ancestors(self, taxonomy: str, slug: str, topic_id: int) -> list[int]:
        """The topic of a term and, for a category, the topics of its parent categories: a
        WordPress category archive lists its sub-categories' posts too, so the imported
        topic pages (and the old /category/world/page/N/ addresses) hold the same posts."""
        topic_ids = [topic_id]
        seen = {slug}
        parent = self.parent_of.get(slug, "") if taxonomy == "category" else ""
        while parent and parent not in seen:
            seen.add(parent)
            if (parent_id := self.topic_ids.get(("category", parent))) is not None:
                topic_ids.append(parent_id)
            parent = self.parent_of.get(parent, "")
        return topic_ids

    def write(self, terms: list[WxrTerm]) -> None:
        latest = {(term.taxonomy, term.slug): term for term in terms}
        # Categories first: they describe a topic a tag of the same slug shares.
        ordered = sorted(latest.values(), key=lambda term: term.taxonomy != "category")
        self.parent_of.update(
            {term.slug: term.parent_slug for term in ordered if term.taxonomy == "category"}
        )
        topics = Topic.objects.in_bulk(
            {self.topic_ids[key] for key in latest if key in self.topic_ids}
            | {self.topic_ids[o] for key in latest if (o := other_taxonomy(key)) in self.topic_ids}
        )
        created: dict[TermKey, Topic] = {}
        changed: dict[int, Topic] = {}
        new_records: list[tuple[TermKey, Topic]] = []
        for term in ordered:
            key, other = (term.taxonomy, term.slug), other_taxonomy((term.taxonomy, term.slug))
            name = plain_title(term.name)[:200] or term.slug
            description = html_to_text(term.description)
            topic_id = self.topic_ids.get(key)
            if topic_id is not None:
                topic = topics[topic_id]
                if term.taxonomy == "tag" and self.topic_ids.get(other) == topic_id:
                    self.summary.skipped[MERGED] += 1
                elif (topic.name, topic.description) == (name, description):
                    self.summary.skipped[UNCHANGED] += 1
                else:
                    topic.name, topic.description = name, description
                    changed[topic.pk] = topic
                    self.summary.updated += 1
                continue
            if other in self.topic_ids or other in created:
                topic = topics[self.topic_ids[other]] if other in self.topic_ids else created[other]
                self.summary.skipped[MERGED] += 1
            else:
                topic = Topic(name=name, description=description, slug=term.slug)
                created[key] = topic
                self.summary.created += 1
            new_records.append((key, topic))
        # The new topics now (their ids are needed below); the changed ones once parents are
        # known, through the same bulk service.
        services.save_topics(list(created.values()))
        ImportedItem.objects.bulk_create(
            ImportedItem(
                source_site=self.source, kind=key[0], external_id=key[1], topic_id=topic.pk
            )
            for key, topic in new_records
        )
        for key, topic in new_records:
            self.topic_ids[key] = topic.pk
            topics[topic.pk] = topic
        for term in ordered:
            if term.taxonomy != "category":
                continue
            topic = topics[self.topic_ids[("category", term.slug)]]
            parent_id = self.topic_ids.get(("category", term.parent_slug))
            if topic.parent_id != parent_id and parent_id != topic.pk:
                topic.parent_id = parent_id
                changed[topic.pk] = topic
        services.save_topics([], list(changed.values()))
        wanted: dict[str, Topic] = {}
        for term in ordered:
            topic = topics[self.topic_ids[(term.taxonomy, term.slug)]]
            if term.taxonomy == "category":
                paths = category_paths(self.path_prefix, term.slug, self.parent_of)
            else:
                paths = tag_paths(self.path_prefix, term.slug)
            paths += query_paths(self.path_prefix, term.taxonomy, term.slug, term.term_id)
            wanted.update(dict.fromkeys(paths, topic))
        self.clashes.extend(write_legacy_paths(wanted, keep_existing=True, per_page=self.per_page))
        services.announce_change()
