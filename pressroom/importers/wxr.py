"""Read a WordPress eXtended RSS export (WXR 1.0-1.2): bytes in, dataclasses out, no database.

The file is streamed with ElementTree's iterparse and each channel child is dropped as soon as
it has been turned into a record, so a 200 MB export is read in bounded memory.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

ZERO_DATE = "0000-00-00 00:00:00"


class WxrError(Exception):
    """The file is not a readable WordPress export; `line` says where reading stopped."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")


@dataclass(frozen=True)
class WxrChannel:
    """The exporting site. Sent once, before any author, term or item."""

    title: str
    link: str
    base_site_url: str
    base_blog_url: str
    wxr_version: str
    posts_per_page: int | None = None  # when the export says (WordPress's own does not)

    @property
    def blog_url(self) -> str:
        return (self.base_blog_url or self.link or self.base_site_url).strip().rstrip("/")

    @property
    def source_site(self) -> str:
        """What identifies this site across re-runs.

        The blog URL, not wp:base_site_url: on WordPress.com and multisite installs the latter is
        the network's address, shared by every blog on it.
        """
        return self.blog_url.lower()

    @property
    def path_prefix(self) -> str:
        """'' for a blog at the root of its domain, '/blog' for one installed under /blog/."""
        return unquote(urlsplit(self.blog_url).path).rstrip("/")


@dataclass(frozen=True)
class WxrAuthor:
    login: str
    display_name: str
    email: str = ""
    author_id: str = ""  # WordPress's user id, as in /?author=3


@dataclass(frozen=True)
class WxrTerm:
    """A category or tag declared at the top of the export."""

    taxonomy: str  # "category" or "tag"
    slug: str
    name: str
    parent_slug: str = ""
    description: str = ""
    term_id: str = ""  # WordPress's term id, as in /?cat=7


@dataclass(frozen=True)
class WxrTermRef:
    """A category or tag an item is filed under."""

    taxonomy: str
    slug: str
    name: str


@dataclass(frozen=True)
class WxrItem:
    """One <item>: a post, page, attachment, menu item or any other post type."""

    post_id: str
    post_type: str
    status: str
    title: str = ""
    link: str = ""
    guid: str = ""
    creator: str = ""
    content: str = ""
    excerpt: str = ""
    post_name: str = ""
    post_date: str = ""
    post_date_gmt: str = ""
    password: str = ""
    parent_id: str = ""
    terms: tuple[WxrTermRef, ...] = field(default=())
    attachment_url: str = ""  # attachments: where the file lives
    image_alt: str = ""  # attachments: the image's alt text
    thumbnail_id: str = ""  # posts: the attachment id of the featured image
    attached_file: str = ""  # attachments: the file's path under wp-content/uploads

    def date(self, site_timezone: tzinfo) -> datetime | None:
        """When it was (or will be) published: the GMT date, else the local date in the site's
        timezone, else None. Raises ValueError on a date that cannot be read."""
        gmt = _parse_date(self.post_date_gmt)
        if gmt is not None:
            return gmt.replace(tzinfo=UTC)
        local = _parse_date(self.post_date)
        if local is not None:
            return local.replace(tzinfo=site_timezone)
        return None

    @property
    def slug(self) -> str:
        """wp:post_name decoded ('%ce%b5...' becomes Greek letters); '' when WordPress had none."""
        return unquote(self.post_name.strip())


Record = WxrChannel | WxrAuthor | WxrTerm | WxrItem


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    if not text or text == ZERO_DATE or text.startswith("0000-00-00"):
        return None
    try:
        # The usual '2020-03-04 10:00:00', read several times faster than by strptime.
        return datetime.fromisoformat(text[:19]) if len(text) >= 19 else _strptime(text)
    except ValueError:
        return _strptime(text)


def _strptime(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")


_NAMESPACE_PREFIXES: dict[str, str] = {}


def _prefix(uri: str) -> str:
    """Map a namespace URI to the prefix WordPress uses, whatever the version or scheme."""
    prefix = _NAMESPACE_PREFIXES.get(uri)
    if prefix is None:
        if "wordpress.org/export/" in uri:
            prefix = "excerpt" if uri.rstrip("/").endswith("excerpt") else "wp"
        elif "purl.org/rss/1.0/modules/content" in uri:
            prefix = "content"
        elif "purl.org/dc/elements" in uri:
            prefix = "dc"
        else:
            prefix = "other"
        _NAMESPACE_PREFIXES[uri] = prefix
    return prefix


_NAMES: dict[str, str] = {}


def _name(tag: str) -> str:
    """'{https://wordpress.org/export/1.2/}post_id' -> 'wp:post_id'."""
    name = _NAMES.get(tag)
    if name is None:
        name = tag
        if tag.startswith("{"):
            uri, local = tag[1:].split("}", 1)
            name = f"{_prefix(uri)}:{local}"
        if len(_NAMES) < 10_000:  # element names repeat; a hostile file cannot grow this
            _NAMES[tag] = name
    return name


def _fields(element: ET.Element) -> dict[str, str]:
    """The text of each direct child, by prefixed name (the first one wins)."""
    values: dict[str, str] = {}
    for child in element:
        values.setdefault(_name(child.tag), (child.text or "").strip("\r"))
    return values


TERM_TAXONOMIES = {"category": "category", "post_tag": "tag", "tag": "tag"}


def _term_ref(child: ET.Element) -> WxrTermRef | None:
    """A <category domain="..." nicename="..."> an item is filed under, if it is one."""
    taxonomy = TERM_TAXONOMIES.get(child.get("domain", ""))
    slug = unquote(child.get("nicename", "")).strip()
    if taxonomy and slug:
        return WxrTermRef(taxonomy, slug, (child.text or slug).strip())
    return None


POST_META_KEYS = {"_thumbnail_id", "_wp_attachment_image_alt"}


def _item(element: ET.Element) -> WxrItem:
    # One walk over the item's children: its fields by prefixed name (the first one wins), the
    # terms it is filed under, and the few wp:postmeta values the import uses.
    values: dict[str, str] = {}
    meta: dict[str, str] = {}
    terms: list[WxrTermRef] = []
    for child in element:
        tag = child.tag
        if tag == "category":
            if (ref := _term_ref(child)) is not None:
                terms.append(ref)
            continue
        name = _NAMES.get(tag) or _name(tag)
        if name == "wp:postmeta":
            fields = _fields(child)
            key = fields.get("wp:meta_key", "").strip()
            if key in POST_META_KEYS:
                meta[key] = fields.get("wp:meta_value", "").strip()
            continue
        if name not in values:
            values[name] = (child.text or "").strip("\r")
    return WxrItem(
        post_id=values.get("wp:post_id", "").strip(),
        post_type=values.get("wp:post_type", "post").strip() or "post",
        status=values.get("wp:status", "").strip(),
        title=values.get("title", ""),
        link=values.get("link", "").strip(),
        guid=values.get("guid", "").strip(),
        # Some exports carry stray angle brackets around the login ('>editor').
        creator=values.get("dc:creator", "").strip().strip("<>").strip(),
        content=values.get("content:encoded", ""),
        excerpt=values.get("excerpt:encoded", ""),
        post_name=values.get("wp:post_name", ""),
        post_date=values.get("wp:post_date", ""),
        post_date_gmt=values.get("wp:post_date_gmt", ""),
        password=values.get("wp:post_password", ""),
        parent_id=values.get("wp:post_parent", "").strip(),
        terms=tuple(terms),
        attachment_url=values.get("wp:attachment_url", "").strip(),
        image_alt=meta.get("_wp_attachment_image_alt", ""),
        thumbnail_id=meta.get("_thumbnail_id", ""),
    )


def _author(element: ET.Element) -> WxrAuthor | None:
    values = _fields(element)
    login = values.get("wp:author_login", "").strip()
    if not login:
        return None
    display = values.get("wp:author_display_name", "").strip()
    return WxrAuthor(
        login,
        display or login,
        values.get("wp:author_email", "").strip(),
        _digits(values.get("wp:author_id", "")),
    )


def _digits(text: str) -> str:
    """A WordPress id, or '' when the text is none (it goes into an address)."""
    text = text.strip()
    return text if text.isascii() and text.isdigit() and len(text) <= 20 else ""


def _term(element: ET.Element, kind: str) -> WxrTerm | None:
    values = _fields(element)
    if kind == "category":
        slug = values.get("wp:category_nicename", "")
        name = values.get("wp:cat_name", "")
        parent = values.get("wp:category_parent", "")
        description = values.get("wp:category_description", "")
    else:
        slug = values.get("wp:tag_slug", "")
        name = values.get("wp:tag_name", "")
        parent = ""
        description = values.get("wp:tag_description", "")
    slug = unquote(slug).strip()
    if not slug:
        return None
    return WxrTerm(
        kind,
        slug,
        name.strip() or slug,
        unquote(parent).strip(),
        description.strip(),
        _digits(values.get("wp:term_id", "")),
    )


# C0 control characters other than tab, newline and carriage return are not allowed in XML 1.0,
# yet WordPress exports them when editors pasted them in (vertical tabs from word processors).
# None of these bytes can occur inside a multi-byte UTF-8 sequence, so dropping them byte by
# byte is safe, and line numbers stay right.
_FORBIDDEN_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


class _ControlCharacterFilter:
    """A binary reader that drops forbidden control characters from what it reads."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source

    def read(self, size: int = -1) -> bytes:
        return self.source.read(size).translate(None, _FORBIDDEN_CONTROL_BYTES)


HEADER_FIELDS = {
    "title": "title",
    "link": "link",
    "wp:base_site_url": "base_site_url",
    "wp:base_blog_url": "base_blog_url",
    "wp:wxr_version": "wxr_version",
    "wp:posts_per_page": "posts_per_page",
}


def parse_wxr(source: BinaryIO) -> Iterator[Record]:
    """Yield the channel, then authors, terms and items in file order.

    Raises WxrError naming the line when the XML is broken or the file is not a WXR export.
    Records yielded before the error are complete and safe to keep.
    """
    header: dict[str, str] = {}
    channel_sent = False
    channel: ET.Element | None = None
    depth = 0
    try:
        # Expat (2.4+) caps entity amplification and never fetches external entities, and the
        # file is the operator's own export: no defusedxml needed.
        events = ET.iterparse(_ControlCharacterFilter(source), events=("start", "end"))  # noqa: S314
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1 and element.tag != "rss":
                    raise WxrError(
                        f"not a WordPress export: the document is <{_name(element.tag)}>, "
                        "not <rss>",
                        1,
                    )
                if depth == 2 and element.tag == "channel":
                    channel = element
                continue
            depth -= 1
            if depth != 2 or channel is None:
                continue
            name = _name(element.tag)
            if name in HEADER_FIELDS and not channel_sent:
                header[HEADER_FIELDS[name]] = (element.text or "").strip()
            elif name in ("wp:author", "wp:category", "wp:tag", "item"):
                if not channel_sent:
                    yield _channel(header)
                    channel_sent = True
                record: Record | None
                if name == "item":
                    record = _item(element)
                elif name == "wp:author":
                    record = _author(element)
                else:
                    record = _term(element, "category" if name == "wp:category" else "tag")
                if record is not None:
                    yield record
            # Done with this child: drop it so memory stays flat however long the file is.
            channel.remove(element)
    except ET.ParseError as error:
        line, column = error.position
        message = str(error).split(":")[0]
        raise WxrError(f"the file is not well-formed XML ({message})", line, column) from None
    if channel is None:
        raise WxrError("not a WordPress export: no <channel> element")
    if not channel_sent:
        yield _channel(header)


def _channel(header: dict[str, str]) -> WxrChannel:
    if not header.get("wxr_version"):
        raise WxrError("not a WordPress export: no wp:wxr_version before the first entry")
    return WxrChannel(
        title=header.get("title", ""),
        link=header.get("link", ""),
        base_site_url=header.get("base_site_url", ""),
        base_blog_url=header.get("base_blog_url", ""),
        wxr_version=header["wxr_version"],
        posts_per_page=_per_page(header.get("posts_per_page", "")),
    )


def _per_page(text: str) -> int | None:
    number = _digits(text)
    return int(number) if number and 0 < int(number) <= 1000 else None


ATTACHMENT_FIELDS = {
    *("wp:post_id", "wp:post_type", "wp:post_parent", "wp:attachment_url"),
    *("title", "link", "excerpt:encoded"),  # the name, attachment page and caption
}
# The attachment's meta the library keeps: its alt text and its path under the uploads folder.
ATTACHMENT_META = {"_wp_attachment_image_alt": "alt", "_wp_attached_file": "file"}
META_FIELDS = {"wp:meta_key", "wp:meta_value"}


def read_attachments(source: BinaryIO) -> Iterator[WxrItem]:
    """Only the attachments (the media library) of an export, read in a quick first pass.

    Posts come before the images they use in most exports; reading the library first lets
    each post be written whole, lead image and galleries included, in its own batch. Stops
    quietly where the file breaks: the full read names the line.

    The pass is kept cheap: expat calls back into Python for each element, so the callbacks
    do one dictionary look-up for an element they do not want, and text is only collected
    (the text handler only installed) inside the few fields read.
    """
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    # Expat's element name -> the prefixed name, for the names the pass reads (else "").
    wanted: dict[str, str] = {}
    found: list[WxrItem] = []
    depth = 0
    fields: dict[str, str] = {}
    meta: dict[str, str] = {}
    meta_fields: dict[str, str] = {}
    capture: list[str] = []
    capture_name = ""

    def wanted_name(raw: str) -> str:
        name = wanted.get(raw)
        if name is None:
            name = _name("{" + raw if "}" in raw else raw)
            if name not in ATTACHMENT_FIELDS and name not in META_FIELDS and name != "wp:postmeta":
                name = ""
            if len(wanted) < 10_000:  # element names repeat; a hostile file cannot grow this
                wanted[raw] = name
        return name

    def text(data: str) -> None:
        capture.append(data)

    def start(raw: str, attributes: dict[str, str]) -> None:
        nonlocal depth, capture_name
        depth += 1
        if depth == 4 or depth == 5:
            name = wanted_name(raw)
            if not name:
                return
            if (depth == 4 and name in ATTACHMENT_FIELDS) or (depth == 5 and name in META_FIELDS):
                capture.clear()
                capture_name = name
                parser.CharacterDataHandler = text
            elif depth == 4 and name == "wp:postmeta":
                meta_fields.clear()
        elif depth == 3 and raw == "item":
            fields.clear()
            meta.clear()

    def end(raw: str) -> None:
        nonlocal depth, capture_name
        ended = depth
        depth -= 1
        if capture_name:
            target = fields if ended == 4 else meta_fields
            target.setdefault(capture_name, "".join(capture))
            capture_name = ""
            parser.CharacterDataHandler = None
        elif ended == 4 and wanted_name(raw) == "wp:postmeta":
            key = ATTACHMENT_META.get(meta_fields.get("wp:meta_key", "").strip())
            if key is not None:
                meta[key] = meta_fields.get("wp:meta_value", "").strip()
        elif (
            ended == 3 and raw == "item" and fields.get("wp:post_type", "").strip() == "attachment"
        ):
            found.append(
                WxrItem(
                    post_id=fields.get("wp:post_id", "").strip(),
                    post_type="attachment",
                    status="inherit",
                    parent_id=fields.get("wp:post_parent", "").strip(),
                    attachment_url=fields.get("wp:attachment_url", "").strip(),
                    image_alt=meta.get("alt", ""),
                    title=fields.get("title", ""),
                    link=fields.get("link", "").strip(),
                    excerpt=fields.get("excerpt:encoded", ""),
                    attached_file=meta.get("file", ""),
                )
            )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    reader = _ControlCharacterFilter(source)
    try:
        while chunk := reader.read(1 << 20):
            parser.Parse(chunk, False)
            yield from found
            found.clear()
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError:
        pass
    yield from found
