"""The article page's parts built in Python (publishing/article_markup.py) write exactly what
the template wrote before (issue 14, point 7): the template markup is kept here, rendered by
Django's engine with autoescaping, and compared byte for byte on articles with everything a page
shows (author photos, a lead image with caption and credit, corrections, topics, embeds, a
republished piece) and with nothing, with values that need escaping, in three time zones."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone

from pressroom.media.tests.conftest import library_photo, media_root  # noqa: F401 (fixture)
from pressroom.publishing import article_page, services
from pressroom.publishing.models import Article, Author, Correction, Topic
from pressroom.publishing.templatetags.publishing import article_social_tags

pytestmark = pytest.mark.django_db

LOAD = "{% load front publishing media_tags static %}"
# publishing/article_detail.html's parts as they were written with the template engine.
TEMPLATE_PARTS = {
    "head": (
        '{% if article.published_at %}<meta property="article:published_time" '
        'content="{{ article.published_at|iso_time }}">{% endif %}\n'
        '<meta property="article:modified_time" content="{{ article.updated_at|iso_time }}">\n'
        '{% for topic in article.shown_topics %}<meta property="article:tag" '
        'content="{{ topic.name }}">{% endfor %}\n'
        "{% article_json_ld article %}\n"
        "{% if article.body|has_embeds %}<script src=\"{% static 'publishing/embeds.js' %}\" "
        "defer></script>{% endif %}"
    ),
    "kicker": (
        '{% with topics=article.shown_topics %}{% if topics %}<p class="kicker"><a href="'
        '{{ topics.0.get_absolute_url }}">{{ topics.0.name }}</a></p>{% endif %}{% endwith %}'
    ),
    "byline": (
        '\n    <div class="byline">\n'
        '      {% with authors=article.bylines %}{% if authors %}<p class="byline-photos">'
        '{% for author in authors %}{% if author.photo %}{% picture author.photo "square" '
        'alt="" css_class="author-photo" %}{% endif %}{% endfor %}</p>{% endif %}\n'
        '      <p class="meta">\n'
        '        {% if authors %}By {% for author in authors %}<a href="'
        '{{ author.get_absolute_url }}">{{ author.name }}</a>{% if not forloop.last %}, '
        "{% endif %}{% endfor %} · {% endif %}{% endwith %}\n"
        '        {% if article.published_at %}<time datetime="'
        '{{ article.published_at|iso_time }}">{{ article.published_at|long_date }}</time>'
        "{% endif %}\n"
        "        {% with notes=article.shown_corrections %}{% if notes %}{% with last=notes|last %}"
        ' · <a href="#corrections">Updated <time datetime="{{ last.noted_at|iso_time }}">'
        "{{ last.noted_at|long_date_time }}</time></a>{% endwith %}{% endif %}{% endwith %}\n"
        "      </p>\n"
        "    </div>\n    "
    ),
    "lead_figure": (
        '{% if article.lead_image %}{% with image=article.lead_image %}<figure class="lead-figure">'
        '{% picture image "lead" css_class="lead-image" %}{% if image.caption or image.credit %}'
        '<figcaption>{{ image.caption }}{% if image.credit %} <span class="credit">'
        "{{ image.credit }}</span>{% endif %}</figcaption>{% endif %}</figure>{% endwith %}\n"
        '  {% elif article.lead_image_url %}<figure class="lead-figure"><img class="lead-image" '
        'src="{{ article.lead_image_url }}" alt="{{ article.lead_image_alt }}"></figure>{% endif %}'
    ),
    "corrections": (
        "{% with notes=article.shown_corrections %}{% if notes %}\n"
        '  <section class="corrections" id="corrections" aria-labelledby="corrections-heading">\n'
        '    <h2 id="corrections-heading">Corrections and updates</h2>\n'
        '    {% for note in notes %}<p id="correction-{{ note.pk }}"><strong>'
        '{{ note.get_kind_display }}, <time datetime="{{ note.noted_at|iso_time }}">'
        "{{ note.noted_at|long_date }}</time>:</strong> {{ note.text }}</p>{% endfor %}\n"
        '    <p class="corrections-policy"><a href="{% url \'publishing:correction-list\' %}">'
        "Every correction we have made</a></p>\n"
        "  </section>\n"
        "  {% endif %}{% endwith %}"
    ),
    "share": (
        '\n    <h2 class="visually-hidden">Share</h2>\n'
        "    {% share_links article.title SITE_URL|add:article.get_absolute_url as links %}\n"
        '    <ul class="share-links" aria-label="Share this article">{% for label, address in links %}'
        '<li><a href="{{ address }}" rel="nofollow noopener">{{ label }}</a></li>{% endfor %}</ul>\n'
        "    "
    ),
    "topics": (
        "{% with topics=article.shown_topics %}{% if topics %}\n"
        '    <h2 class="visually-hidden">Topics</h2>\n'
        '    <ul class="tags">{% for topic in topics %}<li><a href="{{ topic.get_absolute_url }}">'
        "{{ topic.name }}</a></li>{% endfor %}</ul>\n"
        "    {% endif %}{% endwith %}"
    ),
    "social": (
        '{% article_social_image article as card %}{% if card %}<meta property="og:image" '
        'content="{{ card.url }}">{% if card.width %}<meta property="og:image:width" '
        'content="{{ card.width }}"><meta property="og:image:height" content="{{ card.height }}">'
        '{% endif %}{% if card.mime_type %}<meta property="og:image:type" '
        'content="{{ card.mime_type }}">{% endif %}{% if card.alt %}<meta property="og:image:alt" '
        'content="{{ card.alt }}">{% endif %}\n'
        '<meta name="twitter:card" content="summary_large_image"><meta name="twitter:image" '
        'content="{{ card.url }}">{% if card.alt %}<meta name="twitter:image:alt" '
        'content="{{ card.alt }}">{% endif %}{% endif %}'
    ),
}
TAGS = {
    "head": "{% article_head article %}",
    "kicker": "{% article_kicker article %}",
    "byline": "{% article_byline article %}",
    "lead_figure": "{% article_lead_figure article %}",
    "corrections": "{% article_corrections article %}",
    "share": "{% article_share_links article %}",
    "topics": "{% article_topic_list article %}",
    "social": "{% article_social_tags article %}",
}


def render(source: str, article: Article) -> str:
    context = Context({"article": article, "SITE_URL": settings.SITE_URL})
    return Template(LOAD + source).render(context)


def assert_same_markup(article: Article) -> None:
    shown = article_page.article_or_404(article.slug)  # read as the page reads it
    for part, template in TEMPLATE_PARTS.items():
        before, after = render(template, shown), render(TAGS[part], shown)
        assert after == before, part


@pytest.fixture
def everything(make_article) -> Article:
    photo = library_photo("reporter.jpg", 800, 800, seed=3, alt_text="Ana <b>Quispe</b>")
    lead = library_photo(
        "march.jpg",
        1600,
        1067,
        seed=4,
        alt_text='Miners & "students" march',
        caption="Thousands <marched> on Lima & Cusco.",
        credit="Photo: R. O'Brien & co",
    )
    first = services.save_author(Author(name="Ana <Quispe> & Co", bio="x", photo=photo))
    second = services.save_author(Author(name='Luis "Lucho" Mamani', bio="y"))
    topics = [
        services.save_topic(Topic(name='Perú & "Andes" <mining>')),
        services.save_topic(Topic(name="Lima")),
    ]
    article = make_article(
        'Miners & students <march> on "Lima"',
        body='<p>Before.</p><iframe src="https://www.youtube.com/embed/x"></iframe><p>After.</p>',
        topics=topics,
        authors=[first, second],
        lead_image=lead,
        original_outlet="Partner & Co",
        original_url="https://partner.example/a?b=1&c=2",
    )
    for number, kind in enumerate(
        [Correction.Kind.CORRECTION, Correction.Kind.UPDATE, Correction.Kind.CLARIFICATION]
    ):
        services.add_correction(
            article, f"Figure {number} was <wrong> & \"misquoted\" 'twice'.", kind=kind
        )
    return article


@pytest.mark.parametrize("zone", ["UTC", "America/Lima", "Asia/Kolkata"])
def test_every_part_is_the_markup_the_template_wrote(everything, zone):
    with timezone.override(zone):
        assert_same_markup(everything)


def test_an_article_with_nothing_but_its_text_is_the_same_markup(make_article):
    bare = make_article("Plain", topics=[], authors=[])
    assert_same_markup(bare)
    imported = make_article(
        "Imported",
        lead_image_url="https://old.example.org/wp-content/a.jpg?x=1&y=2",
        lead_image_alt='An "imported" <photo>',
    )
    assert_same_markup(imported)


def test_values_are_escaped_never_marked_safe(everything):
    shown = article_page.article_or_404(everything.slug)
    html = "".join(render(tag, shown) for tag in TAGS.values())
    assert "<wrong>" not in html
    assert "&lt;wrong&gt;" in html
    assert "<marched>" not in html
    assert "Ana <Quispe>" not in html
    assert "Ana &lt;Quispe&gt; &amp; Co" in html
    assert article_social_tags(shown).count('content="') >= 4
