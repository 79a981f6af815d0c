"""The pages' addresses: /<slug>/ and nested /<parent>/<slug>/, tried after every other
pattern (pressroom/urls.py includes this last), so no page can hide another view."""

from django.urls import re_path

from pressroom.publishing import views
from pressroom.publishing.models import Page

app_name = "pages"

# Slug segments only (no dots: /favicon.ico and old uploads never match), as deep as a page
# may nest, each as long as a slug may be.
SEGMENT = r"[-\w]{1,100}"
urlpatterns = [
    re_path(
        rf"^(?P<path>{SEGMENT}(?:/{SEGMENT}){{0,{Page.MAX_DEPTH - 1}}})/$",
        views.page_detail,
        name="page-detail",
    ),
]
