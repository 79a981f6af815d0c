from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from pressroom.publishing.listings import cached_featured_topics, cached_menus


def site(request: HttpRequest) -> dict:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        "SITE_DESCRIPTION": settings.SITE_DESCRIPTION,
        "SITE_LANGUAGE": settings.SITE_LANGUAGE,
        # Read at most once per render, and only by a page that shows it (the header and the
        # signup form both do): a bare function would be called at each mention.
        "navigation_topics": SimpleLazyObject(cached_featured_topics),
        # The menus editors build, by location (`menus.header`, `menus.footer`), read at most
        # once per render, all at once; an empty header menu leaves the featured topics there.
        "menus": SimpleLazyObject(cached_menus),
    }
