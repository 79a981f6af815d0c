"""Where a signup or a gift started: the page it was reached from and the send whose link
brought the reader, without a cookie or any per-person id.

How the tag travels: a send's links carry `?ref=email-<send id>`. The WSGI front takes the tag
off the address (so the page cache serves the untagged page: a cached page can never contain
the tag) and leaves it in the request's environ under `CAMPAIGN_ENVIRON`. The page the reader
lands on is still shown at the tagged address in the browser, so the next page's request names
it in its Referer (same origin: the site's `strict-origin-when-cross-origin` policy sends the
whole address). The donate and signup pages read the source from their own address or from the
Referer, and the donate page keeps it in two hidden fields through the form and the checkout.

Why the Referer and not a script copying `location.search` into the forms: it works without
JavaScript, adds nothing to every cached page, and the browser carries it anyway. What it
misses (a browser or extension that strips the Referer, a second page between the tagged one
and the form) is left uncounted: the figures can only be low, never invented.

Both values are plain, bounded strings; no app is imported here (fundraising and newsletter
store them without knowing each other). A tag names a send, never a reader; whether it names a
real, started send is decided when the figures are read (only gifts after the send started).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# The WSGI environ key under which the front leaves a request's campaign tag.
CAMPAIGN_ENVIRON = "pressroom.campaign"
CAMPAIGN_LENGTH = 40
PATH_LENGTH = 300
# The one tag shape links carry today (a send's id), as pressroom.newsletter.visits reads it.
CAMPAIGN = re.compile(r"email-[1-9][0-9]{0,9}")
# A local path: one leading slash (never "//host"), printable ASCII without spaces, quotes,
# backslashes or "#" (what a browser sends, percent-encoded); "?" is refused apart.
LOCAL_PATH = re.compile(r"/(?![/\\])[!$-\[\]-~]{0,%d}" % (PATH_LENGTH - 1))  # noqa: UP031


def clean_campaign(value: object) -> str:
    """The tag if it is one, else "" (anything longer, shorter or otherwise shaped is dropped)."""
    if not isinstance(value, str) or len(value) > CAMPAIGN_LENGTH:
        return ""
    return value if CAMPAIGN.fullmatch(value) else ""


def clean_path(value: object) -> str:
    """A local path (no scheme, host, query or fragment) within PATH_LENGTH, else ""."""
    if not isinstance(value, str) or len(value) > PATH_LENGTH:
        return ""
    return value if LOCAL_PATH.fullmatch(value) and "?" not in value else ""


@dataclass(frozen=True)
class Source:
    path: str = ""
    campaign: str = ""

    @classmethod
    def of(cls, path: object = "", campaign: object = "") -> Source:
        return cls(path=clean_path(path), campaign=clean_campaign(campaign))

    def as_strings(self) -> dict[str, str]:
        strings = {"source_path": self.path, "source_campaign": self.campaign}
        return {key: value for key, value in strings.items() if value}

    @classmethod
    def from_strings(cls, strings: Mapping[str, Any]) -> Source:
        return cls.of(strings.get("source_path", ""), strings.get("source_campaign", ""))

    def __bool__(self) -> bool:
        return bool(self.path or self.campaign)


def _campaign_in_query(query: str) -> str:
    for name, value in parse_qsl(query[:2000], keep_blank_values=True, max_num_fields=50):
        if name == "ref" and (tag := clean_campaign(value)):
            return tag
    return ""


def referring_source(meta: Mapping[str, Any], host: str) -> Source:
    """The source named by a request's same-origin Referer (another site's address, or a
    malformed one, names nothing)."""
    referer = meta.get("HTTP_REFERER", "")
    if not isinstance(referer, str) or not referer or len(referer) > 2000:
        return Source()
    try:
        parts = urlsplit(referer)
    except ValueError:
        return Source()
    if parts.scheme not in {"http", "https"} or parts.netloc.lower() != host.lower():
        return Source()
    return Source.of(parts.path, _campaign_in_query(parts.query))


def request_source(
    meta: Mapping[str, Any], query: Mapping[str, Any], host: str, own_path: str
) -> Source:
    """Where this page view started: the tag on its own address (taken off by the WSGI front,
    or still in the query when the front did not run), else the Referer's; the path is the
    Referer's (the page the reader came from), unless that is this page itself (a form posted
    back to its own page)."""
    referred = referring_source(meta, host)
    own = clean_campaign(meta.get(CAMPAIGN_ENVIRON, "")) or clean_campaign(query.get("ref", ""))
    path = "" if referred.path == own_path else referred.path
    return Source(path=path, campaign=own or referred.campaign)


def source_of(request: Any) -> Source:
    """request_source() of a Django request."""
    return request_source(request.META, request.GET, request.get_host(), request.path)
