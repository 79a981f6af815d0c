"""The site's URLs plus one page that fails, to see what readers get when something breaks."""

from django.urls import path

from pressroom.urls import handler404, handler500
from pressroom.urls import urlpatterns as site_urlpatterns


def broken_page(request):
    raise RuntimeError("Something inside the page broke.")


urlpatterns = [path("broken/", broken_page), *site_urlpatterns]
__all__ = ["handler404", "handler500", "urlpatterns"]
