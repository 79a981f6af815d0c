"""Excerpts on lists, feeds and the digest: the editor's summary, or the first paragraph cut."""

import pytest
from django.test import override_settings

from pressroom.publishing.html import make_excerpt


def test_the_editors_summary_wins_when_given():
    body = "<p>The first paragraph of the body.</p>"
    assert make_excerpt(body, "Miners &amp; teachers march.") == "Miners & teachers march."


def test_first_non_empty_paragraph_as_plain_text_with_entities_decoded():
    body = (
        '<h2>Heading</h2><p> </p><p><img src="https://example.org/a.jpg" alt=""></p>'
        "<p>Miners &amp; farmers <em>march</em> on Lima&nbsp;today.</p><p>Second paragraph.</p>"
    )
    assert make_excerpt(body) == "Miners & farmers march on Lima today."


def test_inline_markup_does_not_split_words():
    assert make_excerpt("<p>un<em>believ</em>able <a href='/x'>news</a></p>") == (
        "unbelievable news"
    )


def test_long_first_paragraph_is_cut_at_sixty_words_with_an_ellipsis():
    words = [f"word{number}" for number in range(100)]
    excerpt = make_excerpt(f"<p>{' '.join(words)}</p>")
    assert excerpt == " ".join(words[:60]) + "…"


def test_a_paragraph_of_exactly_the_limit_is_not_marked_as_cut():
    words = " ".join(["word"] * 60)
    assert make_excerpt(f"<p>{words}</p>") == words


@override_settings(EXCERPT_WORDS=5)
def test_the_cut_follows_the_excerpt_words_setting():
    assert make_excerpt("<p>One two three four five six seven.</p>") == ("One two three four five…")


def test_body_without_paragraphs_uses_its_first_block_of_text():
    assert make_excerpt("<div>Imported text</div><div>more</div>") == "Imported text"


@pytest.mark.django_db
def test_saved_article_carries_its_excerpt(make_article):
    article = make_article(body="<p>First &quot;quoted&quot; paragraph.</p><p>Second.</p>")
    assert article.excerpt == 'First "quoted" paragraph.'
    summarized = make_article(title="Summarized", editor_excerpt="An editor's summary.")
    assert summarized.excerpt == "An editor's summary."
