"""{% fragment %}: parts of base.html that depend on published content only."""

from __future__ import annotations

from django import template
from django.template.base import NodeList, Parser, Token
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from pressroom.lib.pagecache import ContentMemo

register = template.Library()

_fragments: ContentMemo[SafeString] = ContentMemo(max_entries=64)


class FragmentNode(template.Node):
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
