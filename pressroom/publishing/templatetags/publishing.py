import json

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from pressroom.publishing.models import Article

register = template.Library()

# What json_script escapes: nothing in the data can close the <script> or open a comment.
SCRIPT_SAFE = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag
def article_json_ld(article: Article) -> SafeString:
    """A schema.org NewsArticle for search engines, safe to embed in a <script>."""
    url = settings.SITE_URL + article.get_absolute_url()
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title[:110],
        "description": article.excerpt,
        "url": url,
        "mainEntityOfPage": article.effective_canonical_url or url,
        "dateModified": article.updated_at.isoformat(),
        "author": [
            {
                "@type": "Person",
                "name": author.name,
                "url": settings.SITE_URL + author.get_absolute_url(),
            }
            for author in article.authors.all()
        ],
        "publisher": {"@type": "Organization", "name": settings.ORGANIZATION_NAME},
        "keywords": [topic.name for topic in article.topics.all()],
    }
    if article.published_at:
        data["datePublished"] = article.published_at.isoformat()
    if article.lead_image_url:
        data["image"] = [article.lead_image_url]
    if article.is_republished:
        data["isBasedOn"] = article.original_url or article.original_outlet
    payload = json.dumps(data, ensure_ascii=False).translate(SCRIPT_SAFE)
    return mark_safe(f'<script type="application/ld+json">{payload}</script>')
