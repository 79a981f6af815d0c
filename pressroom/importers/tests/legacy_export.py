"""A generated WordPress export that holds every address family: several authors with ids,
nested categories and tags with term ids, posts over many days, a page, and the site's
posts-per-page. Used by the tests of old addresses and by `make bench BENCH_ARGS=legacy`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pressroom.importers.tests.wxr_samples import small_export

TOPICS = [("category", "world", ""), ("category", "peru", "world"), ("tag", "mining", "")]
TOPICS += [("tag", f"tag-{n}", "") for n in range(4)]
AUTHORS = [("reporter", 3), ("Ana Diaz", 4), ("editor", 7)]

# Every generated post is dated before this, so it is published whatever day the tests run.
LATEST_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def generated_export(
    posts: int = 40,
    *,
    site: str = "https://old.example.org",
    per_page: int | None = 4,
    first_id: int = 100,
    start: datetime = datetime(2021, 6, 1, 9, tzinfo=UTC),
) -> bytes:
    """An export of `posts` posts, one every 19 hours from `start` (closer together when that
    would reach LATEST_DATE: WordPress never exports a published post dated in the future, and
    Pressroom would hold such a post back as scheduled), filed round-robin."""
    spacing = min(timedelta(hours=19), (LATEST_DATE - start) / max(posts, 1))
    header = f"<wp:posts_per_page>{per_page}</wp:posts_per_page>" if per_page else ""
    parts = []
    for login, author_id in AUTHORS:
        parts.append(
            f"<wp:author><wp:author_id>{author_id}</wp:author_id>"
            f"<wp:author_login><![CDATA[{login}]]></wp:author_login>"
            f"<wp:author_display_name><![CDATA[{login.title()}]]></wp:author_display_name>"
            "</wp:author>"
        )
    for number, (taxonomy, slug, parent) in enumerate(TOPICS, start=first_id):
        if taxonomy == "category":
            parts.append(
                f"<wp:category><wp:term_id>{number}</wp:term_id>"
                f"<wp:category_nicename>{slug}</wp:category_nicename>"
                f"<wp:category_parent>{parent}</wp:category_parent>"
                f"<wp:cat_name><![CDATA[{slug.title()}]]></wp:cat_name></wp:category>"
            )
        else:
            parts.append(
                f"<wp:tag><wp:term_id>{number}</wp:term_id><wp:tag_slug>{slug}</wp:tag_slug>"
                f"<wp:tag_name><![CDATA[{slug.title()}]]></wp:tag_name></wp:tag>"
            )
    for index in range(posts):
        post_id = first_id + index
        at = start + spacing * index
        login = AUTHORS[index % len(AUTHORS)][0]
        filed = [TOPICS[index % 2], TOPICS[2 + index % 5]] if index % 7 else [TOPICS[1]]
        categories = "".join(
            f'<category domain="{"post_tag" if t == "tag" else t}" nicename="{s}">'
            f"<![CDATA[{s.title()}]]></category>"
            for t, s, _ in filed
        )
        slug = f"story-{post_id}"
        parts.append(f"""<item>
  <title>Story {post_id}</title>
  <link>{site}/{at:%Y/%m/%d}/{slug}/</link>
  <dc:creator><![CDATA[{login}]]></dc:creator>
  <content:encoded><![CDATA[<p>Story {post_id} body.</p>]]></content:encoded>
  <wp:post_id>{post_id}</wp:post_id>
  <wp:post_date>{at:%Y-%m-%d %H:%M:%S}</wp:post_date>
  <wp:post_date_gmt>{at:%Y-%m-%d %H:%M:%S}</wp:post_date_gmt>
  <wp:post_name>{slug}</wp:post_name>
  <wp:status>publish</wp:status>
  <wp:post_type>post</wp:post_type>
  {categories}
</item>""")
    parts.append(f"""<item>
  <title>About us</title>
  <link>{site}/about/</link>
  <wp:post_id>{first_id + posts + 1}</wp:post_id>
  <wp:post_name>about</wp:post_name>
  <wp:status>publish</wp:status>
  <wp:post_type>page</wp:post_type>
</item>""")
    document = small_export("\n".join(parts), header=header).decode()
    document = document.replace("https://old.example.org/news", site).replace(
        "https://old.example.org/", site + "/"
    )
    return document.encode()
