from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from pressroom.lib.pagecache import current_generation
from pressroom.publishing.listings import featured_topics
from pressroom.publishing.models import Topic

NAVIGATION_CACHE_KEY = "front:navigation-topics"


def navigation_topics() -> list[Topic]:
    """The featured topics shown in the header, cached until content changes."""
    # Filed under the content generation: with per-process caches (locmem), the deletion in
    # front.signals only reaches the process that saved, the generation reaches them all.
    key = f"{NAVIGATION_CACHE_KEY}:{current_generation()}"
    topics = cache.get_or_set(key, featured_topics, timeout=300)
    return topics or []


def site(request: HttpRequest) -> dict:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        "SITE_DESCRIPTION": settings.SITE_DESCRIPTION,
        "SITE_LANGUAGE": settings.SITE_LANGUAGE,
        "navigation_topics": navigation_topics,
        # What base.html files its fragments (header, footer, digest signup) under: they show
        # the featured topics, so they are rendered again once anything readers see changes.
        "content_generation": current_generation,
    }
