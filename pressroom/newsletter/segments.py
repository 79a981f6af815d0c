"""Who receives a one-off send: its segment, as one query.

The segment is evaluated when the send's fan-out writes its delivery rows (at the send time, not
when it was scheduled), and the parts that change as people give (donors, non-donors, "gave
since the appeal") are evaluated again for each batch just before it is sent
(`still_in_segment`), so a reader who gave between scheduling and sending is skipped.

Opened/clicked segments are not offered: Pressroom does not track opens or clicks per reader
(docs/newsletter.md, "Segments").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from pressroom.lib.audiences import donor_source
from pressroom.newsletter.models import Digest, Subscriber


class SegmentUnavailable(Exception):
    """The segment names donors but no donor records are installed (fundraising)."""


def _giving_filter(send: Digest) -> Q:
    """The donor parts of the segment (empty Q: none)."""
    condition = Q()
    needs_donors = changes_with_giving(send)
    if not needs_donors:
        return condition
    source = donor_source()
    if source is None:
        raise SegmentUnavailable("No donor records are available to match donors against.")
    campaign_id = send.giving_campaign_id
    if send.givers == Digest.Givers.DONORS:
        condition &= _gave(source.donor_emails(campaign_id, None, False))
    elif send.givers == Digest.Givers.NON_DONORS:
        condition &= ~_gave(source.donor_emails(campaign_id, None, False))
    elif send.givers == Digest.Givers.MONTHLY:
        condition &= _gave(source.donor_emails(campaign_id, None, True))
    since = _reminder_since(send)
    if since is not None:
        condition &= ~_gave(source.donor_emails(None, since, False))
    return condition


def _gave(donor_emails: QuerySet) -> Q:
    """Readers whose address is among the donors': the same mailbox, whichever way its domain
    is spelled. Readers' domains are kept in IDNA (ASCII, services.normalize_email); donor
    records may keep the Unicode spelling (bücher.example), so the few readers at IDNA domains
    are also looked up by their Unicode spelling (one more query, bounded by those readers)."""
    condition = Q(email__in=donor_emails)
    idna_readers = Subscriber.objects.filter(
        Q(email__contains="@xn--") | Q(email__contains=".xn--")
    ).values_list("email", flat=True)
    by_unicode = {_unicode_spelling(address): address for address in idna_readers}
    by_unicode.pop("", None)
    if by_unicode:
        column = donor_emails.query.values_select[0]
        matched = donor_emails.filter(**{f"{column}__in": list(by_unicode)}).values_list(
            column, flat=True
        )
        condition |= Q(email__in=[by_unicode[address] for address in matched])
    return condition


def _unicode_spelling(address: str) -> str:
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('ascii').decode('idna')}".lower()
    except UnicodeError:
        return ""


def _reminder_since(send: Digest) -> datetime | None:
    if send.reminder_since is not None:  # taken when the send was started
        return send.reminder_since
    if send.reminder_of_id is None:
        return None
    earlier = Digest.objects.filter(pk=send.reminder_of_id).values_list("started_at", "created_at")
    found = earlier.first()
    return (found[0] or found[1]) if found else None


def segment_queryset(send: Digest) -> QuerySet[Subscriber]:
    """Receiving readers in the send's segment (raises SegmentUnavailable)."""
    readers = Subscriber.objects.receiving()
    if send.status == Digest.Status.DRAFT or not send.pk:
        topic_ids = list(send.segment_topics.values_list("pk", flat=True)) if send.pk else []
    else:
        # Started: the topics it was started with. A deleted one then matches nobody, where an
        # empty live list would mean everyone (begin_send stops such a send before it goes).
        topic_ids = list(send.segment_topic_ids)
    if topic_ids:
        chose = Subscriber.topics.through.objects.filter(
            subscriber_id=OuterRef("pk"), topic_id__in=topic_ids
        )
        readers = readers.filter(Q(all_topics=True) | Exists(chose))
    if send.subscribed_after:
        readers = readers.filter(confirmed_at__date__gte=send.subscribed_after)
    if send.subscribed_before:
        readers = readers.filter(confirmed_at__date__lt=send.subscribed_before)
    return readers.filter(_giving_filter(send))


def segment_size(send: Digest) -> int:
    return segment_queryset(send).count()


def changes_with_giving(send: Digest) -> bool:
    return bool(send.givers) or send.reminder_of_id is not None or send.reminder_since is not None


def still_in_segment(send: Digest, subscriber_ids: Iterable[int]) -> set[int]:
    """Of these readers, those the donor parts of the segment still let in (checked per batch,
    just before sending). One query for the batch; sends without donor parts skip it."""
    ids = list(subscriber_ids)
    if not changes_with_giving(send) or not ids:
        return set(ids)
    kept = Subscriber.objects.filter(pk__in=ids).filter(_giving_filter(send))
    return set(kept.values_list("pk", flat=True))
