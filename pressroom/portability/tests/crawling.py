"""Crawl a site from its home page with Django's test client: in a test, or as a program on
another database (`python -m pressroom.portability.tests.crawling`, which prints
{path: [status, sha256 of the body]} as JSON)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import deque

# What must differ between two crawls: a feed without items (no corrections yet) is "last built"
# at the time of the request (Django's Feed); with items, the items' dates, compared anyway.
LAST_BUILD = re.compile(rb"<lastBuildDate>[^<]*</lastBuildDate>")
LINK = re.compile(rb'(?:href|src)="(/[^"#?]*)(?:\?[^"#]*)?"')


def crawl(limit: int = 2000) -> dict[str, tuple[int, bytes]]:
    """Every public page reachable from the home page: path -> (status, body)."""
    from django.test import Client

    client = Client()
    seen: dict[str, tuple[int, bytes]] = {}
    queue = deque(["/"])
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen or path.startswith(("/admin", "/static/")):
            continue
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        seen[path] = (response.status_code, LAST_BUILD.sub(b"<lastBuildDate/>", body))
        if response.get("Content-Type", "").startswith("text/html"):
            for match in LINK.finditer(body):
                link = match.group(1).decode()
                if link not in seen:
                    queue.append(link)
    return seen


def fingerprints(pages: dict[str, tuple[int, bytes]]) -> dict[str, list[object]]:
    return {
        path: [status, hashlib.sha256(body).hexdigest()] for path, (status, body) in pages.items()
    }


if __name__ == "__main__":
    import django

    django.setup()
    json.dump(fingerprints(crawl()), sys.stdout)
