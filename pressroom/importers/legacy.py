"""Old WordPress addresses that must keep working (publishing.services.write_legacy_paths
stores them)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MAX_CATEGORY_DEPTH = 20
# Query parameters that say where a visitor came from, not what they asked for.
TRACKING_PARAMETER = re.compile(
    r"(?:utm\w*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl)", re.I
)


def old_path(link: str, blog_path: str = "") -> str:
    """The path (and query) of an old permalink, percent-decoded the way Django hands
    request.path to the redirect middleware; '' when it is the old blog's front page.

    Tracking parameters are dropped ('/story/?utm_source=x' is '/story/'); a query that names a
    post stays ('/?p=12'), since that is the post's address on a blog without pretty permalinks.
    """
    if not link:
        return ""
    parts = urlsplit(link)
    path = unquote(parts.path) or "/"
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not TRACKING_PARAMETER.fullmatch(pair.split("=", 1)[0])
    )
    if not query and path.rstrip("/") == blog_path.rstrip("/"):
        return ""
    return f"{path}?{query}" if query else path


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
