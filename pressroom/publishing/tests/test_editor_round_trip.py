"""Opening an article in the body editor and saving it loses nothing the HTML cleaner allows.

The cases are built from the cleaner's own allow-lists (ALLOWED_TAGS, ALLOWED_ATTRIBUTES): for
every element, an article holding it with every attribute the cleaner allows on it is opened in
the real admin editor in chromium, a character is typed, the article is saved, and the element
and each attribute are still in the stored body. Adding an element or an attribute to the
cleaner adds it here; if the editor has no node for it, this test fails."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from pressroom.publishing.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from tests.browser import browser_test, chromium_page, log_in_to_admin

pytestmark = [*browser_test, pytest.mark.slow]
PASSWORD = "correct horse battery staple"
TYPED = "Z"

# Elements that live only inside another: the case's markup around them ("{}" is the element).
CONTEXT = {
    "li": "<ul>{}</ul>",
    "dt": "<dl>{}<dd>Its meaning</dd></dl>",
    "dd": "<dl><dt>A term</dt>{}</dl>",
    "tr": "<table>{}</table>",
    "td": "<table><tr>{}<td>b</td></tr><tr><td>c</td></tr></table>",
    "th": "<table><tr>{}<td>b</td></tr><tr><td>c</td></tr></table>",
    "caption": "<table>{}<tr><td>A cell</td></tr></table>",
    "colgroup": "<table>{}<tr><td>A cell</td></tr></table>",
    "col": "<table><colgroup>{}</colgroup><tr><td>A cell</td></tr></table>",
    "thead": "<table>{}</table>",
    "tbody": "<table>{}</table>",
    "tfoot": "<table>{}</table>",
    "source": '<picture>{}<img src="/static/photo.jpg" alt="A photo"></picture>',
    "track": '<video src="/static/clip.mp4" controls>{}</video>',
    "figcaption": '<figure><img src="/static/photo.jpg" alt="A photo">{}</figure>',
    "summary": "<details>{}<p>Shown on request.</p></details>",
}
# What goes inside each element (empty for void elements and players).
CONTENT = {
    "br": None,
    "hr": None,
    "img": None,
    "source": None,
    "track": None,
    "col": None,
    "iframe": "",
    "video": "",
    "audio": "",
    "table": "<tr><td>A cell</td></tr>",
    "thead": "<tr><th>A heading</th></tr>",
    "tbody": "<tr><td>A cell</td></tr>",
    "tfoot": "<tr><td>A total</td></tr>",
    "tr": "<td>A cell</td>",
    "colgroup": "<col>",
    "ul": "<li>An item</li>",
    "ol": "<li>An item</li>",
    "dl": "<dt>A term</dt><dd>Its meaning</dd>",
    "picture": '<img src="/static/photo.jpg" alt="A photo">',
    "details": "<summary>More</summary><p>Shown on request.</p>",
    "figure": '<img src="/static/photo.jpg" alt="A photo">',
    "blockquote": "<p>Quoted words.</p>",
    "div": "<p>In a division.</p>",
    "address": "<p>Lima, Peru</p>",
}
# Elements that stand on their own in the body; the others are phrasing and go inside a <p>.
BLOCKS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre", "blockquote", "ul", "ol", "dl",
    "figure", "picture", "table", "iframe", "video", "audio", "div", "address", "details", "img",
}  # fmt: skip
# A value for each attribute, where it matters per element.
VALUES = {
    "id": "body-case",
    "lang": "pt",
    "dir": "rtl",
    "title": "A title",
    "href": "https://example.org/page",
    "hreflang": "es",
    "alt": "A photo",
    "width": "640",
    "height": "360",
    "srcset": "/static/photo-480.jpg 480w, /static/photo-960.jpg 960w",
    "sizes": "(min-width: 40em) 40em, 100vw",
    "loading": "lazy",
    "media": "(min-width: 40em)",
    "allowfullscreen": "",
    "allow": "fullscreen",
    "controls": "",
    "poster": "/static/poster.jpg",
    "preload": "none",
    "kind": "captions",
    "srclang": "en",
    "label": "English",
    "cite": "https://example.org/source",
    "datetime": "2024-05-01",
    "colspan": "2",
    "rowspan": "2",
    "scope": "col",
    "span": "2",
    "start": "3",
    "reversed": "",
}
SPECIFIC = {
    ("iframe", "src"): "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    ("img", "src"): "/static/photo.jpg",
    ("source", "src"): "/static/clip.webm",
    ("source", "type"): "image/webp",
    ("video", "src"): "/static/clip.mp4",
    ("audio", "src"): "/static/talk.mp3",
    ("track", "src"): "/static/captions.vtt",
    ("ol", "type"): "a",
}


def attribute_value(tag: str, attribute: str) -> str:
    return SPECIFIC.get((tag, attribute), VALUES.get(attribute, "value"))


def element_html(tag: str) -> tuple[str, dict[str, str]]:
    names = sorted(ALLOWED_ATTRIBUTES.get("*", set()) | ALLOWED_ATTRIBUTES.get(tag, set()))
    wanted = {name: attribute_value(tag, name) for name in names}
    rendered = "".join(
        f" {name}" if value == "" else f' {name}="{value}"' for name, value in wanted.items()
    )
    content = CONTENT.get(tag, "Some text")
    markup = f"<{tag}{rendered}>" + ("" if content is None else f"{content}</{tag}>")
    if tag in CONTEXT:
        markup = CONTEXT[tag].format(markup)
    elif tag not in BLOCKS:
        markup = f"<p>Before {markup} after.</p>"
    return markup, wanted


class Elements(HTMLParser):
    """Every element of a fragment with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def missing(body: str, tag: str, wanted: dict[str, str]) -> list[str]:
    """What of the element and its attributes the body lacks (empty: all there)."""
    parser = Elements()
    parser.feed(body)
    candidates = [attributes for name, attributes in parser.found if name == tag]
    if not candidates:
        return [f"<{tag}>"]
    best = min(candidates, key=lambda attrs: sum(attrs.get(n) != v for n, v in wanted.items()))
    return [
        f'{tag} {name}="{value}" (found {best.get(name)!r})'
        for name, value in wanted.items()
        if best.get(name) != value
    ]


CASES = sorted(ALLOWED_TAGS)


def test_the_cases_cover_every_element_and_attribute_the_cleaner_allows():
    covered = set(CASES)
    assert covered == set(ALLOWED_TAGS)
    for tag in ALLOWED_ATTRIBUTES:
        assert tag == "*" or tag in covered, f"{tag} has attributes but is not allowed"


@pytest.fixture
def articles(transactional_db, make_article, django_user_model) -> dict[str, tuple[int, dict]]:
    django_user_model.objects.create_superuser("chief", "chief@example.org", PASSWORD)
    made = {}
    for tag in CASES:
        markup, wanted = element_html(tag)
        article = make_article(title=f"Case {tag}", body=f"<p>Edit here.</p>{markup}")
        # The case survives the cleaner, else the editor is not what is tested.
        assert missing(article.body, tag, wanted) == [], (tag, article.body)
        made[tag] = (article.pk, wanted)
    return made


def test_every_allowed_element_and_attribute_survives_editing_in_the_browser(
    live_server, articles, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    errors: list[str] = []
    with chromium_page() as page:
        page.set_default_timeout(15_000)
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        log_in_to_admin(page, live_server.url, "chief", PASSWORD)
        for pk, _ in articles.values():
            page.goto(f"{live_server.url}/admin/publishing/article/{pk}/change/")
            first = page.locator(".ProseMirror p", has_text="Edit here.").first
            first.wait_for(state="visible")
            first.click()
            page.keyboard.press("End")
            page.keyboard.type(TYPED)
            page.click("input[name=_save]")
            page.wait_for_url("**/admin/publishing/article/")
    editor_errors = [error for error in errors if "404" not in error]
    assert editor_errors == []

    from pressroom.publishing.models import Article

    lost = {}
    for tag, (pk, wanted) in articles.items():
        body = Article.objects.get(pk=pk).body
        assert f"Edit here.{TYPED}" in body, (tag, body)  # the edit was saved
        if problems := missing(body, tag, wanted):
            lost[tag] = (problems, body)
    assert lost == {}, "\n".join(
        f"{tag}: {', '.join(problems)}\n    {body}" for tag, (problems, body) in lost.items()
    )
