"""An author's profile: portrait from the library, links (rel=me for the fediverse), feeds."""

import feedparser
import pytest

from pressroom.media import services as media_services
from pressroom.media.tests.conftest import run_worker
from pressroom.media.tests.images import png_bytes
from pressroom.publishing import services
from pressroom.publishing.models import Author

pytestmark = pytest.mark.django_db

CHANGE = "/admin/publishing/author/{}/change/"


def author_form(author: Author, **fields) -> dict:
    data = {
        "name": author.name,
        "slug": author.slug,
        "bio": author.bio,
        "photo": "",
        "website": "",
        "fediverse": "",
        "other_links": "",
        "user": "",
    }
    data.update(fields)
    return data


def test_profile_shows_links_with_rel_me_and_its_feeds(client, editor_client, author, make_article):
    make_article()
    response = editor_client.post(
        CHANGE.format(author.pk),
        author_form(
            author,
            website="https://ana.example.org/",
            fediverse="@ana@social.example",
            other_links="https://bsky.app/profile/ana.example.org\n\nhttps://ana.example.net/news",
        ),
    )
    assert response.status_code == 302
    page = client.get(author.get_absolute_url()).content.decode()
    assert '<a href="https://social.example/@ana" rel="me">@ana@social.example</a>' in page
    assert '<a href="https://ana.example.org/" rel="me">Website</a>' in page
    assert 'href="https://bsky.app/profile/ana.example.org" rel="me"' in page
    assert 'href="https://ana.example.net/news" rel="me"' in page
    for feed in (f"/authors/{author.slug}/feed/", f"/authors/{author.slug}/feed/atom/"):
        assert f'href="{feed}"' in page
        parsed = feedparser.parse(client.get(feed).content)
        assert not parsed.bozo, feed
        assert parsed.entries[0].author == "Ana Quispe"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("fediverse", "ana at social", "@name@instance.social"),
        ("fediverse", "http://social.example/@ana", "@name@instance.social"),
        ("other_links", "javascript:alert(1)", "Not a web address"),
        ("other_links", "\n".join(f"https://e{n}.example.org" for n in range(11)), "At most 10"),
        ("website", "ftp://ana.example.org", "Enter a valid URL"),
    ],
)
def test_bad_links_re_render_the_form_and_change_nothing(
    editor_client, author, field, value, message
):
    response = editor_client.post(CHANGE.format(author.pk), author_form(author, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    author.refresh_from_db()
    assert getattr(author, field) == ""


@pytest.mark.django_db(transaction=True)  # the real worker makes the renditions
def test_a_portrait_from_the_library_is_shown_and_its_use_recorded(
    client, author, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    item, _ = media_services.add_item_from_bytes(png_bytes(), "ana.png", alt_text="Ana Quispe")
    run_worker()  # the renditions
    author.photo = item
    services.save_author(author)
    page = client.get(author.get_absolute_url()).content.decode()
    assert "author-photo" in page
    assert [use.field for use in item.uses.all()] == ["photo"]
    author.photo = None
    services.save_author(author)
    assert not item.uses.exists()
