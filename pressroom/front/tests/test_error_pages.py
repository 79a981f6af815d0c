"""Bad input and broken pages: a branded 404, a plain 500, never a traceback for a reader."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ODD_PATHS = [
    "/no-such-page/",
    "/articles/no-such-article/",
    "/topics/atlantis/",
    "/authors/nobody/",
    "/topics/%00/",
    "/articles/%00/",
    "/authors/%00/feed/",
    "/no%00where/",
    "/topics/peru'--/",
    "/topics/" + "x" * 3000 + "/",
    "/articles/%E2%98%83/",
    "/topics/%F0%9F%98%80/feed/atom/",
    "/?before=%00",
    "/topics/peru/?after=1-%00",
]


def test_unknown_and_odd_addresses_get_the_branded_404(client, make_article):
    make_article()
    for path in ODD_PATHS:
        response = client.get(path)
        assert response.status_code == 404, path
        html = response.content.decode()
        assert "Page not found" in html
        # Branded: the site's own frame, with its skip link, navigation and footer.
        assert '<a class="skip-link" href="#content">Skip to content</a>' in html, path
        assert '<nav class="site-nav" aria-label="Main">' in html, path
        assert 'class="site-footer"' in html, path


@pytest.mark.urls("pressroom.front.tests.broken_urls")
def test_a_broken_page_shows_the_plain_500_page_without_details(settings):
    settings.DEBUG = False
    reader = Client(raise_request_exception=False)
    response = reader.get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert "RuntimeError" not in html
    assert "Traceback" not in html
    assert "Something inside the page broke." not in html
