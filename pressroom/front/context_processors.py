from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from pressroom.publishing.listings import cached_featured_topics, cached_menus
from pressroom.site.current import current_site


def site(request: HttpRequest) -> dict:
    # The site settings editors change in the admin, read at most once per render (and once
    # per content generation while serving public pages); SITE_NAME and SITE_DESCRIPTION are
    # theirs, so every template that names the site follows the admin.
    site_settings = SimpleLazyObject(current_site)
    return {
        "site": site_settings,
        "SITE_NAME": SimpleLazyObject(lambda: site_settings.name),
        "SITE_URL": settings.SITE_URL,
        "SITE_DESCRIPTION": SimpleLazyObject(lambda: site_settings.tagline),
        "SITE_LANGUAGE": settings.SITE_LANGUAGE,
        # Read at most once per render, and only by a page that shows it (the header and the
        # signup form both do): a bare function would be called at each mention.
        "navigation_topics": SimpleLazyObject(cached_featured_topics),
        # The menus editors build, by location (`menus.header`, `menus.footer`), read at most
        # once per render, all at once; an empty header menu leaves the featured topics there.
        "menus": SimpleLazyObject(cached_menus),
    }
