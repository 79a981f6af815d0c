from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from pressroom.publishing.sitemaps import SITEMAPS

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("", include("pressroom.newsletter.urls")),
    path("", include("pressroom.fundraising.urls")),
    path("", include("pressroom.search.urls")),
    path("", include("pressroom.publishing.urls")),
    path("", include("pressroom.front.urls")),
]

handler404 = "pressroom.front.views.page_not_found"
handler500 = "pressroom.front.views.server_error"
