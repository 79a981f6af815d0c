"""Bodies stored before the cleaner's fixes are re-cleaned by the publishing data migration."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from pressroom.publishing.models import Article

migration = importlib.import_module("pressroom.publishing.migrations.0004_reclean_article_bodies")

OLD_BODY = (
    '<p id="main">Hello\x0b world</p>'
    '<iframe src="https://www.google.com/url?q=https://evil.example"></iframe>'
    '<iframe src="https://www.youtube.com/embed/x"></iframe>'
)


@pytest.mark.django_db
def test_the_migration_recleans_every_stored_body(make_article, monkeypatch):
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches
    articles = [make_article(f"Old {n}") for n in range(5)]
    # As an old install stored them: written before the cleaner's fixes.
    Article.objects.filter(pk__in=[a.pk for a in articles]).update(body=OLD_BODY, excerpt="")
    migration.reclean_bodies(apps, None)
    for article in articles:
        article.refresh_from_db()
        assert "\x0b" not in article.body
        assert 'id="main"' not in article.body  # ids are prefixed so they cannot shadow the page's
        assert "evil.example" not in article.body
        assert "https://www.youtube.com/embed/x" in article.body
        assert "Hello" in article.excerpt
    # Running it again changes nothing (a cleaned body is already clean).
    before = list(Article.objects.order_by("pk").values_list("body", "excerpt"))
    migration.reclean_bodies(apps, None)
    assert list(Article.objects.order_by("pk").values_list("body", "excerpt")) == before
