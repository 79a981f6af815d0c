"""Post bodies read as they did on WordPress: paragraphs, captions, shortcodes, blocks."""

from pressroom.importers.wpcontent import (
    convert_shortcodes,
    drop_empty_paragraphs,
    fallback_title,
    gallery_html,
    plain_title,
    wordpress_body_html,
    wpautop,
)
from pressroom.publishing.html import clean_body_html


def test_classic_posts_get_paragraphs_from_blank_lines_and_breaks_from_single_newlines():
    assert wpautop("First line\nsecond line\n\nNew paragraph") == (
        "<p>First line<br />\nsecond line</p>\n<p>New paragraph</p>\n"
    )


def test_block_elements_are_not_wrapped_and_pre_keeps_its_blank_lines():
    text = "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\nAfter the list\n\n<pre>code\n\nmore</pre>\nend"
    assert wpautop(text) == (
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<p>After the list</p>\n"
        "<pre>code\n\nmore</pre>\n<p>end</p>\n"
    )


def test_a_newline_inside_a_tag_is_not_a_line_break():
    assert wpautop('Read <a\nhref="https://example.org/">this</a> now') == (
        '<p>Read <a\nhref="https://example.org/">this</a> now</p>\n'
    )


def test_a_blockquote_gets_its_paragraph_inside():
    assert wpautop("<blockquote>Stay hungry.</blockquote>") == (
        "<blockquote><p>Stay hungry.</p></blockquote>\n"
    )


def test_a_caption_shortcode_becomes_a_figure_with_a_figcaption():
    content = (
        '[caption id="attachment_9" align="alignright" width="300"]'
        '<a href="https://old.example.org/a.jpg"><img src="https://old.example.org/a.jpg" '
        'alt="Miners" width="300" /></a> Miners on the march[/caption]'
    )
    assert convert_shortcodes(content) == (
        '<figure><a href="https://old.example.org/a.jpg"><img src="https://old.example.org/a.jpg"'
        ' alt="Miners" width="300" /></a><figcaption>Miners on the march</figcaption></figure>'
    )


def test_the_old_caption_attribute_form_is_understood():
    content = '[caption caption="Lima at dawn"]<img src="https://x.example/l.jpg" />[/caption]'
    assert convert_shortcodes(content) == (
        '<figure><img src="https://x.example/l.jpg" /><figcaption>Lima at dawn</figcaption>'
        "</figure>"
    )


def test_other_shortcodes_vanish_but_keep_the_text_they_wrap():
    content = 'Before [gallery ids="1,2,3"] middle [highlight color="red"]kept text[/highlight].'
    assert convert_shortcodes(content) == "Before  middle kept text."


def test_bracketed_words_that_are_not_shortcodes_stay():
    assert convert_shortcodes("He said it [sic] twice [1].") == "He said it [sic] twice [1]."


def test_an_escaped_shortcode_shows_literally():
    assert convert_shortcodes("Type [[gallery]] to add one.") == "Type [gallery] to add one."


def test_audio_shortcodes_keep_the_media_at_its_original_url():
    html = convert_shortcodes('[audio mp3="https://old.example.org/a.mp3"][/audio]')
    assert html == '<audio controls src="https://old.example.org/a.mp3"></audio>'


def test_block_editor_comments_go_and_their_html_stays_without_wpautop():
    content = (
        "<!-- wp:paragraph -->\n<p>One</p>\n<!-- /wp:paragraph -->\n\n"
        '<!-- wp:latest-posts {"postsToShow":3} /-->\n'
        "<!-- wp:preformatted -->\n<pre>line one\n\nline two</pre>\n<!-- /wp:preformatted -->"
    )
    html = wordpress_body_html(content)
    assert "wp:" not in html
    assert "<br" not in html
    assert html == "<p>One</p>\n\n<pre>line one\n\nline two</pre>"


def test_a_captioned_image_in_a_classic_post_is_a_figure_outside_any_paragraph():
    content = (
        '[caption width="300"]<img src="https://old.example.org/a.jpg" alt="A" /> Caption'
        "[/caption]\nFirst line\nsecond line"
    )
    body = clean_body_html(wordpress_body_html(content))
    assert body == (
        '<figure><img src="https://old.example.org/a.jpg" alt="A"><figcaption>Caption'
        "</figcaption></figure>\n<p>First line<br>\nsecond line</p>"
    )


def test_titles_lose_their_markup_but_keep_special_characters():
    assert plain_title("Markup: Title <em>With</em> <b>Mark<sup>up</sup></b>") == (
        "Markup: Title With Markup"
    )
    assert plain_title("Prices &amp; wages: 5 < 7 > 3") == "Prices & wages: 5 < 7 > 3"


def test_a_post_without_a_title_is_named_after_its_first_words_or_its_date():
    body = "<p>This post has no title, but it still must link to the single post view.</p>"
    assert fallback_title(body, "2009-09-05") == "This post has no title, but it still…"
    assert fallback_title("", "2009-09-05") == "Untitled post 2009-09-05"


def test_a_url_alone_on_its_line_becomes_a_link_as_wordpress_embedded_it():
    content = "Watch this:\n\nhttps://www.youtube.com/watch?v=SQEQr7c0-dw&amp;t=5\n\nGood, no?"
    body = clean_body_html(wordpress_body_html(content))
    assert (
        '<p><a href="https://www.youtube.com/watch?v=SQEQr7c0-dw&amp;t=5" '
        'rel="noopener noreferrer">https://www.youtube.com/watch?v=SQEQr7c0-dw&amp;t=5</a></p>'
    ) in body
    assert "Read https://example.org/ now" in wordpress_body_html("Read https://example.org/ now")


def test_no_empty_paragraph_is_left_where_a_gallery_or_more_tag_was():
    content = 'Intro\n\n<!--more-->\n\n[gallery ids="1,2"]\n\nOutro'
    # As the importer writes it: converted, empty paragraphs dropped, then cleaned by publishing.
    assert clean_body_html(drop_empty_paragraphs(wordpress_body_html(content))) == (
        "<p>Intro</p>\n<p>Outro</p>"
    )


def test_a_gallery_shortcode_is_rendered_by_the_given_gallery_maker():
    seen = []

    def gallery(attributes: dict[str, str]) -> str:
        seen.append(attributes)
        return gallery_html([("https://old.example.org/a.jpg", 'Miners "marching"')])

    body = wordpress_body_html('Before\n\n[gallery columns="2" ids="7,8"]\n\nAfter', gallery)
    assert seen == [{"columns": "2", "ids": "7,8"}]
    assert body == (
        '<p>Before</p>\n<figure><img src="https://old.example.org/a.jpg" '
        'alt="Miners &quot;marching&quot;"></figure>\n<p>After</p>\n'
    )
