"""Where the WordPress sample export lives, and small hand-written exports for edge cases."""

from pathlib import Path

# WordPress's own theme unit test export, kept in the repository with its licence (data/README.md).
THEME_UNIT_TEST_DATA = Path(__file__).resolve().parent / "data" / "themeunittestdata.wordpress.xml"


def small_export(items: str, *, version: str = "1.2", header: str = "") -> bytes:
    """A minimal WXR document around `items`, in the namespace of the given WXR version."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"
  xmlns:excerpt="http://wordpress.org/export/{version}/excerpt/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:wp="http://wordpress.org/export/{version}/">
<channel>
  <title>Old Blog</title>
  <link>https://old.example.org/news</link>
  <wp:wxr_version>{version}</wp:wxr_version>
  <wp:base_site_url>https://old.example.org/</wp:base_site_url>
  <wp:base_blog_url>https://old.example.org/news</wp:base_blog_url>
  {header}
  {items}
</channel>
</rss>
""".encode()


def post_item(
    post_id: int,
    title: str = "A post",
    content: str = "Body text.",
    *,
    status: str = "publish",
    post_name: str = "",
    date: str = "2020-03-04 10:00:00",
    date_gmt: str = "2020-03-04 15:00:00",
    creator: str = "reporter",
    extra: str = "",
) -> str:
    return f"""<item>
  <title>{title}</title>
  <link>https://old.example.org/news/2020/03/04/{post_name or post_id}/</link>
  <dc:creator><![CDATA[{creator}]]></dc:creator>
  <content:encoded><![CDATA[{content}]]></content:encoded>
  <excerpt:encoded><![CDATA[]]></excerpt:encoded>
  <wp:post_id>{post_id}</wp:post_id>
  <wp:post_date>{date}</wp:post_date>
  <wp:post_date_gmt>{date_gmt}</wp:post_date_gmt>
  <wp:post_name>{post_name}</wp:post_name>
  <wp:status>{status}</wp:status>
  <wp:post_type>post</wp:post_type>
  {extra}
</item>"""
