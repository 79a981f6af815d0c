"""Fixtures shared by every app's tests: personas and a way to publish articles."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from pressroom.accounts.roles import AUDIENCE, EDITOR, FUNDRAISING
from pressroom.publishing import services
from pressroom.publishing.models import Article, Author, Topic

# Hypothesis (tests/test_fuzz.py): `make test` runs a small, fixed set of examples so the suite
# stays fast and a failure reproduces; HYPOTHESIS_PROFILE=thorough explores far more, at random.
_FUZZ_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
hypothesis_settings.register_profile(
    "pressroom",
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_FUZZ_HEALTH,
)
hypothesis_settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=_FUZZ_HEALTH
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "pressroom"))


class _OneRequestAtATimeOnSharedSQLite(ThreadedWSGIServer):
    """The live server, answering one request at a time when its threads share one connection.

    On SQLite's in-memory test database Django hands every request thread the test's own
    connection (connections_override). A browser loads several resources at once, and two
    requests interleaving on one connection fail at random ("database table is locked", an
    unexpected 500 or 503 in a browser test). PostgreSQL gives each thread its own connection,
    and is left threaded."""

    def set_app(self, application):
        if not self.connections_override:
            return super().set_app(application)
        one_at_a_time = threading.Lock()

        def serialised(environ, start_response):
            with one_at_a_time:
                return application(environ, start_response)

        return super().set_app(serialised)


LiveServerThread.server_class = _OneRequestAtATimeOnSharedSQLite


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path):
    """Each test starts with an empty cache, as a freshly started server would, and a content
    generation of its own (in its VAR_DIR): a bump by another test process sharing var/ would
    make its pages miss."""
    from django.core.cache import cache
    from django.test.utils import override_settings

    from pressroom.insight.counting import forget_salt
    from pressroom.lib import counting
    from pressroom.lib.counting import forget_pending
    from pressroom.lib.pagecache.memo import forget_memos
    from pressroom.lib.pagecache.pages import forget_memory

    # Not the `settings` fixture: a test's own settings (a cache that is down) must be undone
    # before the cache is cleared below. The generation also moves on every PAGE_CACHE_SECONDS
    # period; a period of days keeps a test from crossing that boundary between two requests,
    # where a page it expects to be kept would miss (tests/test_generations.py covers periods).
    with override_settings(VAR_DIR=tmp_path, PAGE_CACHE_SECONDS=10**6):
        cache.clear()
        forget_memory()
        forget_memos()
        forget_pending()
        counting.BACKGROUND = False  # tests hand the counts on themselves (no counting thread)
        forget_salt()  # no reader seen by an earlier test (ids repeat between tests)
        yield
    cache.clear()
    forget_memory()
    forget_memos()
    forget_pending()


@pytest.fixture(autouse=True)
def _no_idle_smtp_connections():
    """A digest worker keeps its SMTP connections for the next batch; no test inherits one
    open to another test's mail server."""
    from pressroom.newsletter import smtp_pool

    yield
    smtp_pool.close_idle(0)


@pytest.fixture
def make_staff(db, django_user_model):
    """A staff member (not a superuser) holding the given roles."""

    def make(username: str, *roles: str):
        user = django_user_model.objects.create_user(
            username=username,
            email=f"{username}@example.org",
            password="correct horse battery",
            is_staff=True,
        )
        user.groups.add(*Group.objects.filter(name__in=roles))
        assert user.groups.count() == len(roles), "every role is a group"
        return user

    return make


@pytest.fixture
def editor(make_staff):
    """A newsroom editor: staff, in the Editor role (content only), not a superuser."""
    return make_staff("edna", EDITOR.name)


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def audience_client(make_staff):
    """Staff in the Audience role: subscribers and digests."""
    from django.test import Client

    browser = Client()
    browser.force_login(make_staff("aud", AUDIENCE.name))
    return browser


@pytest.fixture
def fundraiser_client(make_staff):
    """Staff in the Fundraising role: campaigns, donors, reports."""
    from django.test import Client

    browser = Client()
    browser.force_login(make_staff("fran", FUNDRAISING.name))
    return browser


@pytest.fixture
def reader_client(db):
    """A reader: an anonymous visitor with a browser of their own (not `client`, which
    `editor_client` logs in)."""
    from django.test import Client

    return Client()


@pytest.fixture
def topic(db) -> Topic:
    return services.save_topic(Topic(name="Peru", description="News from Peru."))


@pytest.fixture
def author(db) -> Author:
    return services.save_author(Author(name="Ana Quispe", bio="Reports from the Andes."))


@pytest.fixture
def make_article(db, topic, author) -> Callable[..., Article]:
    """Publish an article through the service, as the admin would."""

    def make(
        title: str = "Miners march on Lima",
        body: str = "<p>Thousands of miners marched on Lima on Monday.</p><p>More follows.</p>",
        *,
        status: str = "published",
        published_at=None,
        topics: list[Topic] | None = None,
        authors: list[Author] | None = None,
        **fields,
    ) -> Article:
        if published_at is None and status != Article.Status.DRAFT:
            published_at = timezone.now() - timedelta(minutes=5)
        article = Article(
            title=title, body=body, status=status, published_at=published_at, **fields
        )
        return services.save_article(
            article,
            topics=[topic] if topics is None else topics,
            authors=[author] if authors is None else authors,
        )

    return make
