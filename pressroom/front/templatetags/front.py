"""{% fragment %}: parts of base.html that depend on published content only."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.template.base import NodeList, Parser, Template, Token
from django.template.loader_tags import BLOCK_CONTEXT_KEY, BlockNode
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from pressroom.lib.pagecache import ContentMemo
from pressroom.publishing.templatetags.publishing import SCRIPT_SAFE
from pressroom.site.current import publisher_data

register = template.Library()

_fragments: ContentMemo[SafeString] = ContentMemo(max_entries=64)


class FragmentNode(template.Node):
    # Not walked for blocks: `{% extends %}` looks through the whole of base.html for them on
    # every render, and a fragment's markup is drawn once per generation for every page, so it
    # holds no block a page could override. The header and footer were most of that walk.
    child_nodelists = ()

    def __init__(self, name: str, nodelist: NodeList) -> None:
        self.name = name
        self.nodelist = nodelist

    def render(self, context: template.Context) -> SafeString:
        template_name = self.origin.template_name if self.origin else None
        key = (template_name, self.name, translation.get_language(), get_script_prefix())
        return _fragments.get_or_set(key, lambda: mark_safe(self.nodelist.render(context)))


@register.tag
def fragment(parser: Parser, token: Token) -> FragmentNode:
    """`{% fragment "site-header" %}...{% endfragment %}`: markup rendered once per content
    generation in each process, then reused by every page until something readers see changes.

    Only for markup that is the same for every reader and every page (the header's featured
    topics, the footer, the digest signup form, the stylesheet's hashed URL, which changes only
    with a deploy and its restart): it is rendered with the context of whichever page needed
    it first. Unlike `{% cache %}` it asks no cache (no pickling, no key hashing,
    no Redis round trip), which matters on a page rendered for every request.
    """
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1][0] != bits[1][-1]:
        raise template.TemplateSyntaxError('Use {% fragment "name" %}...{% endfragment %}.')
    nodelist = parser.parse(("endfragment",))
    parser.delete_first_token()
    return FragmentNode(bits[1][1:-1], nodelist)


def canonical_url(request: HttpRequest, query_keys: tuple[str, ...] = ()) -> str:
    """The page's address: its path and, of the query, only `query_keys`, the parameters this
    kind of page is really addressed by (a list page's cursor, a search's query and page: the
    view names them as `canonical_query_keys`). Anything else in a query (tracking, typos,
    `/?q=spam` on the home page) is not part of the page."""
    kept = [(key, request.GET[key][:200]) for key in query_keys if request.GET.get(key)]
    query = f"?{urlencode(kept)}" if kept else ""
    return f"{settings.SITE_URL}{request.path}{query}"


def _block_output(context: template.Context, name: str) -> str:
    """What the page's `{% block name %}` renders (the most derived one, `block.super`
    included): a page's title shows in <title> and again in its link preview, written once."""
    block_context = context.render_context.get(BLOCK_CONTEXT_KEY)
    if block_context is None or block_context.get_block(name) is None:
        return ""
    # A BlockNode renders whichever block of its name the page defines last.
    return BlockNode(name, NodeList()).render(context).strip()


@register.simple_tag(takes_context=True)
def page_meta(context: template.Context) -> SafeString:
    """Canonical link and Open Graph tags of the page, from its `title`, `description`,
    `canonical` and `og_type` blocks. Sets `canonical_url` for the rest of the page.

    Written here rather than in a template: it is on every page, and a template of its own
    cost a tenth of an uncached topic page's render.

    An error page (`is_error_page` in its context: not found, gone, a refused preview) has no
    canonical link and no og:url: it is no page of the site to point at."""
    request = context.get("request")
    site_name = escape(context["site"].name)
    title = _block_output(context, "title").removesuffix(f" — {site_name}")
    description = _block_output(context, "description")
    og_type = _block_output(context, "og_type") or "website"
    tags = (
        f'<meta property="og:type" content="{og_type}">\n'
        f'<meta property="og:site_name" content="{site_name}">\n'
        f'<meta property="og:title" content="{title}">\n'
        f'<meta property="og:description" content="{description}">'
    )
    if context.get("is_error_page"):
        context["canonical_url"] = ""
        return mark_safe(tags)
    # Block output is rendered, so already escaped; the address worked out here is not yet.
    canonical = _block_output(context, "canonical") or escape(
        canonical_url(request, tuple(context.get("canonical_query_keys") or ()))
        if request is not None
        else settings.SITE_URL + "/"
    )
    context["canonical_url"] = mark_safe(canonical)
    return mark_safe(
        f'<link rel="canonical" href="{canonical}">\n{tags}\n'
        f'<meta property="og:url" content="{canonical}">'
    )


def _template(context: template.Context, name: str) -> Template:
    return cast(Template, context.template.engine.get_template(name))  # type: ignore[union-attr]


@functools.cache
def theme_base_css() -> SafeString:
    """front/theme.css without comments and line breaks, to inline in every page's head (its
    bytes cost less than the request a stylesheet of its own would make every reader wait
    for)."""
    path = finders.find("front/theme.css")
    css = Path(cast(str, path)).read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    # Spaces before a colon are kept: ".a :focus" is not ".a:focus".
    css = re.sub(r"\s*([{};,])\s*", r"\1", css.strip()).replace(": ", ":")
    css = re.sub(r"\s+", " ", css)
    return mark_safe(css.replace("</", "<\\/"))


@register.simple_tag(takes_context=True)
def site_head(context: template.Context) -> SafeString:
    """The <head> parts every page shares: the theme's custom properties with the settings'
    colours, the print stylesheet, icons, manifest, the organisation's structured data."""
    site = context["site"]
    data = {"@context": "https://schema.org", **publisher_data(site)}
    payload = json.dumps(data, ensure_ascii=False).translate(SCRIPT_SAFE)
    extra = {
        "theme_base_css": theme_base_css(),
        "organisation_json_ld": mark_safe(f'<script type="application/ld+json">{payload}</script>'),
    }
    with context.push(**extra):
        return mark_safe(_template(context, "front/_head.html").render(context))
