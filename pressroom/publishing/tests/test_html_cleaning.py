"""Every body that reaches the database is cleaned, whoever wrote it."""

import pytest

from pressroom.publishing.html import clean_body_html
from pressroom.publishing.models import Article

MALICIOUS = (
    "<p onclick=\"alert(1)\">Hello <script>alert('x')</script>world</p>"
    '<a href="javascript:alert(1)">click</a>'
    '<img src="https://example.org/a.jpg" onerror="alert(2)" alt="A march">'
    "<style>body{display:none}</style>"
    '<iframe src="https://evil.example/embed"></iframe>'
)

JOURNALISM = (
    "<h2>What happened</h2>"
    "<ul><li>One</li></ul><ol><li>Two</li></ol>"
    '<p><a href="https://example.org/report">the report</a></p>'
    '<figure><img src="https://example.org/march.jpg" alt="Marchers in Lima">'
    "<figcaption>Marchers in Lima.</figcaption></figure>"
    "<blockquote><p>Ni un paso atrás.</p></blockquote>"
    "<table><thead><tr><th>Region</th></tr></thead><tbody><tr><td>Puno</td></tr></tbody></table>"
    '<iframe src="https://www.youtube-nocookie.com/embed/abc" width="560" height="315"></iframe>'
)


def test_scripts_event_handlers_and_javascript_urls_are_removed():
    cleaned = clean_body_html(MALICIOUS)
    assert "<script" not in cleaned
    assert "alert('x')" not in cleaned
    assert "onclick" not in cleaned
    assert "onerror" not in cleaned
    assert "javascript:" not in cleaned
    assert "<style" not in cleaned
    assert "Hello" in cleaned
    assert "world" in cleaned
    assert 'alt="A march"' in cleaned


def test_disguised_script_urls_are_removed():
    cleaned = clean_body_html(
        '<a href="JaVaScRiPt:alert(1)">a</a><a href=" javascript:alert(2)">b</a>'
        '<a href="data:text/html;base64,PHNjcmlwdD4=">c</a>'
        '<img src="vbscript:msgbox(1)" alt="x">'
        '<svg onload="alert(3)"><script>alert(4)</script></svg>'
    )
    lowered = cleaned.lower()
    for fragment in ["javascript", "data:", "vbscript", "onload", "<svg", "<script", "alert"]:
        assert fragment not in lowered, fragment


def test_iframes_from_unknown_hosts_lose_their_source():
    cleaned = clean_body_html('<iframe src="https://evil.example/embed"></iframe>')
    assert "evil.example" not in cleaned
    assert "src=" not in cleaned
    plain_http = clean_body_html('<iframe src="http://www.youtube.com/embed/abc"></iframe>')
    assert "src=" not in plain_http


def test_what_journalism_needs_is_kept():
    cleaned = clean_body_html(JOURNALISM)
    for fragment in [
        "<h2>What happened</h2>",
        "<ul><li>One</li></ul>",
        "<ol><li>Two</li></ol>",
        'href="https://example.org/report"',
        '<img src="https://example.org/march.jpg" alt="Marchers in Lima">',
        "<figcaption>Marchers in Lima.</figcaption>",
        "<blockquote><p>Ni un paso atrás.</p></blockquote>",
        "<th>Region</th>",
        "<td>Puno</td>",
        'src="https://www.youtube-nocookie.com/embed/abc"',
    ]:
        assert fragment in cleaned, fragment


def test_links_open_without_giving_the_target_page_access_to_ours():
    cleaned = clean_body_html('<a href="https://example.org/">x</a>')
    assert 'rel="noopener noreferrer"' in cleaned


@pytest.mark.django_db
def test_saving_an_article_cleans_its_body_every_time(make_article):
    article = make_article(body=MALICIOUS + JOURNALISM)
    stored = Article.objects.get(pk=article.pk).body
    assert "<script" not in stored
    assert "onclick" not in stored
    assert "javascript:" not in stored
    assert "evil.example" not in stored
    assert "<figure>" in stored

    # An update through the service is cleaned again, not only the first save.
    article.body = '<p>Update</p><img src="x.jpg" onerror="steal()">'
    from pressroom.publishing import services

    services.save_article(article)
    stored = Article.objects.get(pk=article.pk).body
    assert "onerror" not in stored
    assert "steal()" not in stored
    assert "<p>Update</p>" in stored
