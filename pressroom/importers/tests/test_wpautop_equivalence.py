"""wpcontent.wpautop skips the replacements a post cannot need; it must still give exactly what
the straight port (wpautop_reference) gives, on generated markup and on real posts."""

import random

from hypothesis import given
from hypothesis import strategies as st

from bench.wxr import block_body, classic_body
from pressroom.importers.tests.wpautop_reference import reference_wpautop
from pressroom.importers.tests.wxr_samples import THEME_UNIT_TEST_DATA
from pressroom.importers.wpcontent import wpautop
from pressroom.importers.wxr import WxrItem, parse_wxr

# Pieces WordPress content is made of, the ones each skipped replacement looks for included.
PIECES = [
    "word", "Word two.", " ", "  ", "\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r", "&nbsp;",
    "<p>", "</p>", "<P>", "<br>", "<br/>", "<br />", "<BR>", "<hr>", "<hr />", "<div>", "</div>",
    "<div class=\"x\">", "<address>", "</address>", "<form>", "</form>", "<ul>", "</ul>",
    "<li>", "</li>", "<ol>", "</ol>", "<blockquote>", "</blockquote>", "<BLOCKQUOTE cite=x>",
    "<pre>", "</pre>", "<pre class=\"c\">", "<figure>", "</figure>", "<figcaption>",
    "</figcaption>", "<img src=\"a.jpg\" alt=\"a\">", "<em>", "</em>", "<a href=\"#\">", "</a>",
    "<script>", "</script>", "<style>", "</style>", "<svg>", "</svg>", "<option>", "</option>",
    "<object>", "</object>", "<param>", "<embed>", "<audio>", "</audio>", "[video]", "[/video]",
    "<source>", "<track>", "<table>", "<tr>", "<td>", "</td>", "</tr>", "</table>", "<h2>",
    "</h2>", "<!-- c -->", "<!--\nc\n-->", "<span\nclass=x>", "</span>", "<", ">", "<p><",
]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_wpautop_gives_what_the_straight_port_gives_on_generated_markup(pieces: list[str]):
    text = "".join(pieces)
    assert wpautop(text) == reference_wpautop(text)
    assert wpautop(text, br=False) == reference_wpautop(text, br=False)


def test_wpautop_gives_what_the_straight_port_gives_on_real_and_benchmark_posts():
    with THEME_UNIT_TEST_DATA.open("rb") as source:
        contents = [
            record.content
            for record in parse_wxr(source)
            if isinstance(record, WxrItem) and record.content
        ]
    rng = random.Random(5)
    contents += [classic_body(rng, number, 1000) for number in range(1, 200)]
    contents += [block_body(rng) for _ in range(20)]
    assert len(contents) > 250
    for content in contents:
        assert wpautop(content) == reference_wpautop(content)
