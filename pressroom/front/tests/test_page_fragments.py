"""base.html keeps its header, footer and digest signup as cached fragments: a reader still sees
a change to the featured topics on the next page, and the signup stays free of anything personal."""

import pytest

from pressroom.publishing import services
from pressroom.publishing.models import Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def uncached_pages(settings):
    # Every request renders (no page is stored): only the parts of pages are kept.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def _between(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def test_a_newly_featured_topic_reaches_the_cached_header_and_signup(
    reader_client, make_article, topic, uncached_pages, django_capture_on_commit_callbacks
):
    make_article()
    before = reader_client.get("/").content.decode()
    assert "/topics/peru/" not in _between(before, 'aria-label="Main"', "</nav>")

    topic.is_featured = True
    with django_capture_on_commit_callbacks(execute=True):
        services.save_topic(topic)

    after = reader_client.get("/topics/peru/").content.decode()
    assert '<li><a href="/topics/peru/">Peru</a></li>' in _between(
        after, 'aria-label="Main"', "</nav>"
    )
    signup = _between(after, 'class="digest-signup"', "</section>")
    assert f'name="topics" value="{topic.pk}"> Peru' in signup


def test_a_renamed_featured_topic_is_renamed_in_the_cached_header(
    reader_client, make_article, uncached_pages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        climate = services.save_topic(Topic(name="Climate", is_featured=True))
    assert ">Climate</a>" in reader_client.get("/").content.decode()

    climate.name = "Climate crisis"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_topic(climate)

    html = reader_client.get("/").content.decode()
    assert ">Climate crisis</a>" in _between(html, 'aria-label="Main"', "</nav>")


def test_the_cached_digest_signup_carries_no_csrf_token_or_cookie(reader_client, uncached_pages):
    reader_client.get("/")  # fills the fragment cache
    response = reader_client.get("/")
    signup = _between(response.content.decode(), 'class="digest-signup"', "</section>")
    assert "csrfmiddlewaretoken" not in signup
    assert not response.cookies


def test_a_renamed_topic_is_renamed_on_its_archive_page_at_once(
    reader_client, make_article, topic, uncached_pages, django_capture_on_commit_callbacks
):
    """Archive pages keep their topic in each process until content changes."""
    make_article()
    assert "<h1>Peru</h1>" in reader_client.get("/topics/peru/").content.decode()

    topic.name = "Perú"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_topic(topic)

    assert "<h1>Perú</h1>" in reader_client.get("/topics/peru/").content.decode()


def test_a_fragment_tag_without_a_quoted_name_is_a_template_error():
    from django.template import Template, TemplateSyntaxError

    for source in ["{% fragment %}{% endfragment %}", "{% fragment header %}{% endfragment %}"]:
        with pytest.raises(TemplateSyntaxError, match="fragment"):
            Template("{% load front %}" + source)


def test_a_correction_committed_during_a_render_shows_on_the_next_one(
    reader_client, make_article, uncached_pages, monkeypatch, django_capture_on_commit_callbacks
):
    """The teasers' markup is kept under the generation the request started with, so a change
    that commits after the view read its list (another editor's save) is not kept as current."""
    from pressroom.publishing import listings

    article = make_article(title="Miners march on Lima")
    read = listings.Archive.read

    def read_then_another_editor_corrects(self, *args, **kwargs):
        teasers = read(self, *args, **kwargs)
        monkeypatch.setattr(listings.Archive, "read", read)  # once
        article.title = "Miners march on Cusco"
        with django_capture_on_commit_callbacks(execute=True):
            services.save_article(article)
        return teasers

    monkeypatch.setattr(listings.Archive, "read", read_then_another_editor_corrects)
    during = reader_client.get("/topics/peru/").content.decode()
    assert "Miners march on Lima" in during  # rendered from what its view had read

    after = reader_client.get("/topics/peru/").content.decode()
    assert "Miners march on Cusco" in after
    assert "Miners march on Lima" not in after
