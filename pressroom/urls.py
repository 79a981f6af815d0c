from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path

from pressroom.publishing.sitemaps import SITEMAPS

urlpatterns = [
    # An index of per-section sitemaps, each paginated (?p=2, ...), so no article is left out.
    path(
        "sitemap.xml",
        sitemap_views.index,
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    # Fediverse discovery and inboxes: fixed addresses no page may take.
    path("", include("pressroom.federation.urls")),
    # Publishing first: its pages are most of the traffic, and URLs are tried in order.
    path("", include("pressroom.publishing.urls")),
    path("", include("pressroom.newsletter.urls")),
    path("", include("pressroom.fundraising.urls")),
    path("", include("pressroom.search.urls")),
    path("", include("pressroom.partners.urls")),
    path("", include("pressroom.front.urls")),
    path("admin/", admin.site.urls),
    path("", include("pressroom.media.urls")),
    # Last: pages answer any address no pattern above took (/about/, /about/team/).
    path("", include("pressroom.publishing.page_urls")),
]

handler404 = "pressroom.front.views.page_not_found"
handler500 = "pressroom.front.views.server_error"
