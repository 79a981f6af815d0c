"""The name and address editors set reach every place that names the outlet: pages, feeds,
emails, the digest's subject, the publisher in structured data. Before the first save, the
environment's values are used, so nothing changes until an editor saves."""

from __future__ import annotations

import feedparser
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pressroom.lib.email import base_context, render_email
from pressroom.newsletter.digests import _subject
from pressroom.site.current import read_site
from pressroom.site.models import SiteSettings
from pressroom.site.services import save_site_settings

pytestmark = pytest.mark.django_db


def rename(django_capture_on_commit_callbacks, **values: str) -> None:
    site = SiteSettings.from_environment()
    for field, value in values.items():
        setattr(site, field, value)
    site.full_clean()
    with django_capture_on_commit_callbacks(execute=True):
        save_site_settings(site)


def test_the_environment_gives_the_values_until_the_first_save(settings):
    site = read_site()
    assert site.name == settings.SITE_NAME
    assert site.tagline == settings.SITE_DESCRIPTION
    assert site.organisation_name == settings.ORGANIZATION_NAME
    assert site.accent == "#b3261e"
    assert SiteSettings.objects.count() == 0


def test_feeds_emails_and_the_digest_name_the_site_as_its_settings_say(
    reader_client, make_article, django_capture_on_commit_callbacks
):
    make_article()
    rename(
        django_capture_on_commit_callbacks,
        name="The Andes Post",
        tagline="News from the highlands",
        organisation_name="Andes Post Cooperative",
        postal_address="Jr. Lampa 123, Lima",
    )
    feed = feedparser.parse(reader_client.get("/feed/").content)
    assert feed.feed.title == "The Andes Post"
    assert feed.feed.subtitle == "News from the highlands"

    context = base_context()
    assert context["SITE_NAME"] == "The Andes Post"
    assert context["ORGANIZATION_NAME"] == "Andes Post Cooperative"
    assert context["ORGANIZATION_ADDRESS"] == "Jr. Lampa 123, Lima"
    subject, _, _ = render_email(
        "newsletter/emails/confirm", {"confirm_url": "https://x.example/c"}
    )
    assert subject == "Confirm your subscription to the The Andes Post Daily Digest"
    assert _subject(timezone.now().date(), "Miners march").startswith("The Andes Post Daily Digest")

    html = reader_client.get("/").content.decode()
    assert "<title>The Andes Post</title>" in html
    assert '<meta property="og:site_name" content="The Andes Post">' in html
    assert "Andes Post Cooperative<br>Jr. Lampa 123, Lima" in html


def reads_of_the_settings(queries: CaptureQueriesContext) -> int:
    return sum("site_sitesettings" in query["sql"] for query in queries.captured_queries)


def test_the_settings_are_read_once_per_content_generation(
    reader_client, make_article, django_capture_on_commit_callbacks
):
    article = make_article()
    rename(django_capture_on_commit_callbacks, name="The Andes Post")
    with CaptureQueriesContext(connection) as queries:
        reader_client.get("/")  # the first page after a change reads them, once
    assert reads_of_the_settings(queries) == 1
    # Another page, another address: the settings are kept, no query reads them again.
    with CaptureQueriesContext(connection) as queries:
        reader_client.get(article.get_absolute_url())
    assert reads_of_the_settings(queries) == 0


def test_the_republish_snippet_list_id_admin_header_and_503_name_the_site_as_set(
    reader_client, editor_client, make_article, django_capture_on_commit_callbacks, settings
):
    # Before, these four took SITE_NAME from the environment whatever the editors had set.
    from django.db.utils import OperationalError
    from django.test import RequestFactory

    from pressroom.front.views import server_error
    from pressroom.newsletter.sending import list_id, personal_headers
    from pressroom.partners.republication import republication_html

    settings.SITE_NAME = "Environment Name"
    article = make_article()
    rename(django_capture_on_commit_callbacks, name="The Andes Post")

    snippet = republication_html(article)
    assert "originally published by" in snippet
    assert ">The Andes Post</a>" in snippet
    assert "Environment Name" not in snippet

    assert list_id().startswith('"The Andes Post Daily Digest" <digest.')
    headers = personal_headers(1, 2, "https://example.org/u")
    assert headers["List-Id"] == list_id()

    admin_page = editor_client.get("/admin/").content.decode()
    assert "The Andes Post newsroom" in admin_page
    assert "Environment Name" not in admin_page

    # The 503 page is drawn without the database: the name this process last served.
    assert "<title>The Andes Post</title>" in reader_client.get("/").content.decode()
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        outage = server_error(RequestFactory().get("/topics/"))
    assert outage.status_code == 503
    assert "The Andes Post cannot reach its archive" in outage.content.decode()
