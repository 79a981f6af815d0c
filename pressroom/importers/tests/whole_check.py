"""`python -m pressroom.importers.tests.whole_check`: what is missing from the imported
articles of the database in DATABASE_URL, as JSON (an empty list when every article is whole).

Run by test_import_resume.py in a process of its own, against the database the killed import
wrote to.
"""

import json
import os


def marker(number: int) -> str:
    """A word only post `number` has, and that no other post's word starts with."""
    return "mark" + "".join(chr(ord("a") + int(digit)) for digit in str(number)) + "z"


def problems() -> list[str]:
    from pressroom.importers.models import ImportedItem
    from pressroom.publishing.models import Article, ArticleAuthor, ArticleTopic, LegacyPath
    from pressroom.search.backends import search_article_ids

    found = []
    articles = Article.objects.all()
    imported = dict(
        ImportedItem.objects.filter(kind="post").values_list("article_id", "external_id")
    )
    for article in articles:
        number = int(imported.get(article.pk, "0"))
        label = f"post {number} ({article.title})"
        if article.pk not in imported:
            found.append(f"{label}: no bookkeeping row")
        if number % 2 == 0 and not article.lead_image_url.endswith(f"/lead-{number}.jpg"):
            found.append(f"{label}: lead image {article.lead_image_url!r}")
        if number % 3 == 0 and (f"/gallery-{number}-b.jpg" not in article.body):
            found.append(f"{label}: gallery incomplete")
        if not ArticleTopic.objects.filter(article=article).exists():
            found.append(f"{label}: no topic")
        if not ArticleAuthor.objects.filter(article=article).exists():
            found.append(f"{label}: no byline")
        if not LegacyPath.objects.filter(article=article, path=f"/news/?p={number}").exists():
            found.append(f"{label}: no redirect from /news/?p={number}")
        if article.pk not in search_article_ids(marker(number), limit=5):
            found.append(f"{label}: not in the search index")
    return found


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
    import django

    django.setup()
    from pressroom.publishing.models import Article

    print(json.dumps({"articles": Article.objects.count(), "problems": problems()}))
