"""List pages build their teasers in Python; a reader sees exactly what the teaser template
(still used by search results) shows for the same article: link, escaping, date, byline."""

import pytest
from django.template.loader import render_to_string

from pressroom.publishing import listings, services
from pressroom.publishing.models import Article, Author
from pressroom.publishing.templatetags.publishing import teaser_items

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("heading_level", [2, 3])
def test_list_teasers_match_the_teaser_template(make_article, author, heading_level):
    zoe = services.save_author(Author(name="Zoë <Ortiz> & co"))
    article = make_article(
        title='Miners "march" <on> Lima & Cusco',
        body="<p>Thousands & more <em>marched</em>.</p>",
        authors=[zoe, author],
        original_outlet="La República & Co",
        slug="mineros-marchan-ñuñoa",
    )
    expected = render_to_string(
        "publishing/_teaser.html",
        {
            "article": Article.objects.for_listing().get(pk=article.pk),
            "heading_level": heading_level,
        },
    )
    page = listings.latest_page({})
    assert page.items[0].author_names == ("Zoë <Ortiz> & co", "Ana Quispe")  # byline order
    assert teaser_items(page.items, heading_level) == expected
    assert article.get_absolute_url() in expected


def test_a_teaser_without_byline_outlet_or_excerpt_matches_the_teaser_template(make_article):
    article = make_article(title="Brief", body="", authors=[])
    expected = render_to_string(
        "publishing/_teaser.html", {"article": Article.objects.for_listing().get(pk=article.pk)}
    )
    assert teaser_items(listings.latest_page({}).items) == expected
