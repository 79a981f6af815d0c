from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from pressroom.lib.pagecache.generation import serving_generation
from pressroom.publishing.listings import cached_featured_topics, cached_menus
from pressroom.site.current import current_site


def site(request: HttpRequest) -> dict:
    # The site settings editors change in the admin; SITE_NAME and SITE_DESCRIPTION are theirs,
    # so every template that names the site follows the admin. While a public page is served
    # they are kept for the content generation: read at once, plain values (a lazy object costs
    # at each mention). Elsewhere (the admin) they are read only by a page that shows them.
    site_settings: Any
    if serving_generation():
        site_settings = current_site()
        name, tagline = site_settings.name, site_settings.tagline
    else:
        site_settings = SimpleLazyObject(current_site)
        name = SimpleLazyObject(lambda: site_settings.name)
        tagline = SimpleLazyObject(lambda: site_settings.tagline)
    return {
        "site": site_settings,
        "SITE_NAME": name,
        "SITE_URL": settings.SITE_URL,
        "SITE_DESCRIPTION": tagline,
        "SITE_LANGUAGE": settings.SITE_LANGUAGE,
        # Read at most once per render, and only by a page that shows it (the header and the
        # signup form both do): a bare function would be called at each mention.
        "navigation_topics": SimpleLazyObject(cached_featured_topics),
        # The menus editors build, by location (`menus.header`, `menus.footer`), read at most
        # once per render, all at once; an empty header menu leaves the featured topics there.
        "menus": SimpleLazyObject(cached_menus),
    }
