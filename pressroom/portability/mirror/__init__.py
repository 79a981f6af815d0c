"""`pressroom mirror OUTDIR`: the public site as plain files any static host serves.

Pages are rendered in this process through the real URLconf and middleware (Django's test
client, no network, no page cache), one at a time, and written as they come: the site is never
held in memory. Addresses become files a static host answers without a program:

- a directory address gets `index.html` (`/topics/peru/` -> `topics/peru/index.html`);
- a list's deeper pages, addressed on the live site by a cursor (`?before=...`), become paths
  (`/topics/peru/page/2/`), and every link to them (the pager, the canonical link) is rewritten;
- feeds are written as `feed/index.xml` (links point there: any host serves .xml as XML), the
  sitemaps' pages (`sitemap-articles.xml?p=2`) as `sitemap-articles-p2.xml`;
- forms and pages only the live site can answer (search, the digest's signup, donations) link
  to the live site (SITE_URL) by absolute address;
- CSS, JS and the media files pages link to are copied.

A second run rewrites only what changed. The manifest (MANIFEST_NAME, a SQLite file in OUTDIR)
keeps for every file it wrote the sha256 of its content and a fingerprint of what the page
shows: for an article its updated_at, lead image, corrections and the related articles; for
each page of a list the ids and updated_at of the articles on it and whether an older page
follows; for a feed its newest articles. Only pages whose fingerprint moved are rendered again,
and a file is written only when its content differs. What every page shows (the site's
settings, menus, topics' and authors' names, the campaign banner, the theme and static files,
the base URL) is one site-wide fingerprint: when it moves, every page is rendered again (files
whose content is the same are still left alone). Files of pages no longer public are deleted.
"""

from pressroom.portability.mirror.common import (
    LIVE_ONLY,
    MANIFEST_NAME,
    MirrorError,
    Summary,
    check_base_url,
    check_output,
    is_live_only,
)
from pressroom.portability.mirror.run import mirror_site

__all__ = [
    "LIVE_ONLY",
    "MANIFEST_NAME",
    "MirrorError",
    "Summary",
    "check_base_url",
    "check_output",
    "is_live_only",
    "mirror_site",
]
